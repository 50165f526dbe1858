package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.reins.http.TestServer;
import dev.reins.runtime.worker.RunProcesses;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A server that is stopped takes its processes with it: nothing runs on without an owner. */
class ShutdownTest {

  @Test
  void stoppingTheServerStopsTheProcessesOfItsRuns() throws Exception {
    String runId;
    long pid;
    try (TestServer server = TestServer.start(Map.of())) {
      runId = server.submit("[\"sh\",\"-c\",\"sleep 600 & sleep 600 & wait\"]", null);
      pid = server.awaitState(runId, "running", Duration.ofSeconds(30)).get("worker").get("pid").asLong();
      // running means the shell started; its children follow when it gets to them
      Awaitility.await("the run's shell and its children are running").atMost(Duration.ofSeconds(30))
          .until(() -> RunProcesses.pidsOf(runId).size() >= 3);
    }
    // SIGKILL was sent before the server's close returned; the kernel finishes the job
    Awaitility.await("the run's processes end with the server").atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      assertTrue(!RunProcesses.isAlive(pid), "the run's process outlived the server");
      assertEquals(Set.of(), RunProcesses.pidsOf(runId), "no process of the run outlives the server");
    });
  }
}
