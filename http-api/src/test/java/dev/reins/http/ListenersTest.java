package dev.reins.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.reins.persistence.JournalDatabase;
import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.cluster.typed.Cluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Nothing a server opens listens beyond this machine by default: HTTP, cluster remoting and the
 * embedded database's auto-server are all bound to the loopback, and the auto-server still lets a
 * second JVM open the database while the server runs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ListenersTest {
  private TestServer server;

  @BeforeAll
  void start() throws Exception {
    Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/net/tcp")), "needs Linux /proc/net/tcp to list sockets");
    server = TestServer.start();
  }

  @AfterAll
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** A listening TCP socket of this JVM. */
  record Listener(InetAddress address, int port) {}

  @Test
  void everyListeningSocketOfTheServerIsOnTheLoopback() throws Exception {
    int http = server.port();
    int remoting = Cluster.get(server.server.system()).selfMember().address().getPort().orElseThrow();
    int h2 = autoServerPort();

    List<Listener> listeners = listenersOfThisProcess();
    Set<Integer> ports = new HashSet<>();
    listeners.forEach(l -> ports.add(l.port()));
    assertTrue(ports.containsAll(List.of(http, remoting, h2)),
        "HTTP " + http + ", remoting " + remoting + " and H2 " + h2 + " should all be among " + listeners);
    for (Listener l : listeners) {
      assertTrue(l.address().isLoopbackAddress(), "listens beyond the loopback: " + l);
    }
  }

  @Test
  void aSecondJvmStillOpensTheEmbeddedDatabaseThroughTheAutoServer() throws Exception {
    String run = server.submit("[\"true\"]", null);
    server.awaitState(run, "succeeded", Duration.ofSeconds(30));
    String url = JournalDatabase.fromConfig(server.server.system().settings().config()).url();
    // H2's own shell in another JVM: the file is locked by the server, so only the auto-server can answer
    Process shell = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        "org.h2.tools.Shell", "-url", url, "-user", "", "-password", "",
        "-sql", "SELECT 'events=' || COUNT(*) FROM \"event_journal\" WHERE \"persistence_id\" = 'Run|" + run + "'")
        .redirectErrorStream(true)
        .start();
    String out = new String(shell.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(shell.waitFor(60, TimeUnit.SECONDS), "the second JVM did not finish");
    assertEquals(0, shell.exitValue(), out);
    assertTrue(out.matches("(?s).*events=[1-9]\\d*.*"), "the second JVM reads the server's journal: " + out);
  }

  /**
   * The port H2 wrote into the database's lock file for a second JVM to connect to. H2 writes the
   * file in two steps when it opens the database (the lock, then the server's address), and the
   * journal's pool may still be opening it just after start-up: wait for the address.
   */
  private int autoServerPort() {
    return TestServer.await(Duration.ofSeconds(30), () -> {
      Properties lock = new Properties();
      try (Reader r = Files.newBufferedReader(server.dataDir.resolve("journal").resolve("reins.lock.db"), StandardCharsets.ISO_8859_1)) {
        lock.load(r);
      }
      String address = lock.getProperty("server");
      return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    });
  }

  /** The sockets in LISTEN state whose inodes this process holds open (/proc/self/fd). */
  static List<Listener> listenersOfThisProcess() throws IOException {
    Set<String> inodes = new HashSet<>();
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
      for (Path fd : fds) {
        try {
          String target = Files.readSymbolicLink(fd).toString();
          if (target.startsWith("socket:[")) {
            inodes.add(target.substring("socket:[".length(), target.length() - 1));
          }
        } catch (IOException e) {
          // the descriptor was closed while we looked
        }
      }
    }
    List<Listener> out = new ArrayList<>();
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      Path p = Path.of(table);
      if (!Files.isReadable(p)) {
        continue;
      }
      List<String> lines = Files.readAllLines(p, StandardCharsets.US_ASCII);
      for (String line : lines.subList(1, lines.size())) {
        String[] f = line.trim().split("\\s+");
        // f[1] local address:port, f[3] state (0A = LISTEN), f[9] inode
        if (f[3].equals("0A") && inodes.contains(f[9])) {
          String[] local = f[1].split(":");
          out.add(new Listener(kernelAddress(local[0]), Integer.parseInt(local[1], 16)));
        }
      }
    }
    return out;
  }

  /** /proc/net/tcp* prints an address as 32-bit words in host (little-endian) order. */
  static InetAddress kernelAddress(String hex) throws IOException {
    byte[] raw = HexFormat.of().parseHex(hex);
    byte[] address = new byte[raw.length];
    for (int word = 0; word < raw.length; word += 4) {
      for (int i = 0; i < 4; i++) {
        address[word + i] = raw[word + 3 - i];
      }
    }
    // an IPv4-mapped IPv6 address comes back as the IPv4 address
    return InetAddress.getByAddress(address);
  }
}
