package dev.reins.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.security.auth.module.UnixSystem;
import dev.reins.protocol.json.ReinsJson;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * REINS_RUN_AS: a server running as root starts every job as the configured user (here
 * {@code nobody}), with that user's groups and home; the job can still use its REINS_TOKEN, writes
 * its working directory, and cannot read what the server keeps in the data directory.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JobUserTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private TestServer server;
  private String[] nobody;

  @BeforeAll
  void start() throws Exception {
    Assumptions.assumeTrue(new UnixSystem().getUid() == 0,
        "REINS_RUN_AS needs a server running as root; this test JVM is not root, so the test is skipped");
    nobody = run("getent", "passwd", "nobody").trim().split(":");
    server = TestServer.start(Map.of("reins.worker.run-as", "nobody"));
    // as an operator's /var/lib/reins would be: others may traverse it (a temporary directory is 0700)
    Files.setPosixFilePermissions(server.dataDir, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  @AfterAll
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void aJobRunsAsTheConfiguredUserAndItsTokenStillWorks() throws Exception {
    Path data = server.dataDir;
    String script = String.join("; ",
        "echo uid=$(id -u)", "echo gid=$(id -g)", "echo groups=$(id -G)", "echo home=$HOME",
        "echo written > out.txt && echo wrote=yes",
        "test -r " + data.resolve("journal") + " || echo journal=unreadable",
        "test -r " + data.resolve("logs") + " || echo logs=unreadable",
        "test -w " + data.resolve("workers") + " || echo workers=unwritable",
        "echo token=$REINS_TOKEN", "sleep 600");
    String run = server.submit("[\"sh\",\"-c\"," + ReinsJson.mapper().writeValueAsString(script) + "]", null);
    Map<String, String> said = ApiClient.assignments(server.awaitOutput(run, 1, "token=", WAIT));

    assertEquals(nobody[2], said.get("uid"));
    assertEquals(nobody[3], said.get("gid"));
    assertEquals(run("id", "-G", "nobody").trim(), said.get("groups"), "the user's supplementary groups, not root's");
    assertEquals(nobody[5], said.get("home"));
    assertEquals("yes", said.get("wrote"), "the job writes its working directory");
    Path out = data.resolve("work").resolve(run).resolve("out.txt");
    assertEquals(Integer.parseInt(nobody[2]), Files.getAttribute(out, "unix:uid"));
    assertEquals("unreadable", said.get("journal"));
    assertEquals("unreadable", said.get("logs"));
    assertEquals("unwritable", said.get("workers"));
    assertEquals(0, Files.getAttribute(data.resolve("logs").resolve(run).resolve("1.log"), "unix:uid"),
        "attempt logs stay the server's");
    assertEquals(0, Files.getAttribute(data.resolve("workers").resolve(run + ".1.pid"), "unix:uid"),
        "pid files stay the server's");

    ApiClient job = server.as(said.get("token"));
    assertEquals(200, job.get("/v1/runs/" + run).statusCode(), "the job reads its own run with its REINS_TOKEN");

    long pid = ApiClient.json(server.get("/v1/runs/" + run)).get("worker").get("pid").asLong();
    assertEquals(200, server.post("/v1/runs/" + run + "/cancel?wait=20s", null).statusCode());
    assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "the server still stops the user's job");
  }

  @Test
  void aServerConfiguredWithAnUnknownUserRefusesToStart() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TestServer.start(Map.of("reins.worker.run-as", "reins-no-such-user")).close());
    assertTrue(e.getMessage().contains("REINS_RUN_AS") && e.getMessage().contains("no such user"), e.getMessage());
  }

  private static String run(String... argv) throws Exception {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), String.join(" ", argv) + ": " + out);
    return out;
  }
}
