package dev.reins.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Orphans of a crashed node: the pid files let the next start kill what the previous one left
 * running, and only that. Linux only.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PidFilesTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  /** Only for awaitAssert. */
  private final ActorTestKit kit = ActorTestKit.create("PidFilesTest",
      ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load()));

  @TempDir Path dataDir;

  /** Everything a test started, killed afterwards whatever the test did. */
  private final List<Long> started = new ArrayList<>();

  @AfterEach
  void killLeftovers() {
    for (long pid : started) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
    started.clear();
  }

  @AfterAll
  void shutdown() {
    kit.shutdownTestKit();
  }

  @Test
  void aRecordedProcessGroupIsKilledWithEverythingInIt() throws Exception {
    Process leader = start("/usr/bin/setsid", "sh", "-c", "sleep 600 & wait");
    awaitAssert(() -> assertEquals(1, leader.toHandle().descendants().count(), "the shell started its sleep"));
    long child = leader.toHandle().descendants().findFirst().orElseThrow().pid();
    started.add(child);
    PidFiles pids = new PidFiles(dataDir);
    pids.record("orphan", 1, leader.toHandle());

    List<Long> reaped = pids.reapOrphans();

    assertEquals(List.of(leader.pid()), reaped);
    assertTrue(leader.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "the leader survived");
    awaitAssert(() -> assertFalse(RunProcesses.isAlive(child), "the leader's child survived"));
    assertFalse(Files.exists(pidFile("orphan.1.pid")), "a reaped pid file is forgotten");
  }

  @Test
  void aGroupWhoseLeaderIsGoneIsStillKilled() throws Exception {
    Process leader = start("/usr/bin/setsid", "sh", "-c", "sleep 600 & echo $!");
    long child;
    try (BufferedReader out = new BufferedReader(new InputStreamReader(leader.getInputStream(), StandardCharsets.US_ASCII))) {
      child = Long.parseLong(out.readLine().trim());
    }
    started.add(child);
    assertTrue(leader.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS));
    assertTrue(RunProcesses.isAlive(child));
    Files.createDirectories(pidFile("x").getParent());
    Files.writeString(pidFile("gone.1.pid"), leader.pid() + " 0\n", StandardCharsets.US_ASCII);

    List<Long> reaped = new PidFiles(dataDir).reapOrphans();

    assertEquals(List.of(leader.pid()), reaped);
    awaitAssert(() -> assertFalse(RunProcesses.isAlive(child), "the group outlived its leader's pid file"));
  }

  @Test
  void aProcessThatIsNotTheRecordedOneIsLeftAlone() throws Exception {
    Process unrelated = start("/usr/bin/setsid", "sleep", "600");
    long startedAt = PidFiles.startTime(unrelated.toHandle());
    Files.createDirectories(pidFile("x").getParent());
    // same pid, another start time: the pid was reused by a process that is not ours
    Files.writeString(pidFile("reused.1.pid"), unrelated.pid() + " " + (startedAt - 6_000) + "\n",
        StandardCharsets.US_ASCII);

    List<Long> reaped = new PidFiles(dataDir).reapOrphans();

    assertEquals(List.of(), reaped);
    assertTrue(unrelated.isAlive());
    assertFalse(unrelated.waitFor(200, TimeUnit.MILLISECONDS), "the unrelated process was killed");
    assertFalse(Files.exists(pidFile("reused.1.pid")), "the stale pid file is forgotten");
  }

  @Test
  void aPidFileOfAProcessThatEndedNormallyKillsNothing() throws Exception {
    Process done = start("/usr/bin/setsid", "true");
    PidFiles pids = new PidFiles(dataDir);
    pids.record("done", 1, done.toHandle());
    assertTrue(done.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS));

    assertEquals(List.of(), pids.reapOrphans());
    assertFalse(Files.exists(pidFile("done.1.pid")));
  }

  @Test
  void removingAPidFileForgetsTheProcess() throws Exception {
    Process running = start("/usr/bin/setsid", "sleep", "600");
    PidFiles pids = new PidFiles(dataDir);
    pids.record("kept", 1, running.toHandle());

    pids.remove("kept", 1);

    assertEquals(List.of(), pids.reapOrphans());
    assertTrue(running.isAlive());
  }

  private Process start(String... argv) throws IOException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    started.add(p.pid());
    return p;
  }

  private Path pidFile(String name) {
    return dataDir.resolve("workers").resolve(name);
  }

  private void awaitAssert(Runnable assertion) {
    kit.createTestProbe().awaitAssert(WAIT, () -> {
      assertion.run();
      return null;
    });
  }
}
