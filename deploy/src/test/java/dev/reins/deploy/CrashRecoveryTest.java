package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.http.ApiClient;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The server is killed with SIGKILL in the middle of its work and started again on the same data
 * directory: no accepted run or event is lost, orphaned processes are killed, and each in-flight
 * run is resolved by policy without any client touching it.
 */
class CrashRecoveryTest {
  private final List<Process> servers = new ArrayList<>();
  private final List<Long> strayPids = new ArrayList<>();
  private int httpPort;
  private ApiClient api;

  @AfterEach
  void cleanUp() {
    servers.forEach(Process::destroyForcibly);
    strayPids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
  }

  @Test
  void sigkillAndRestartResolvesEveryInFlightRunByPolicy() throws Exception {
    Path dataDir = Files.createTempDirectory("reins-crash-");
    httpPort = ServerProcess.freePort();
    api = new ApiClient(httpPort, null);
    int remotePort = ServerProcess.freePort();

    Process first = startServer(dataDir, remotePort);
    awaitReady();
    // no REINS_ADMIN_TOKEN: the first start wrote an admin token for its operator, for nobody else
    Path tokenFile = dataDir.resolve("admin.token");
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile)));
    api = api.as(Files.readString(tokenFile).trim());
    String retried = submit("[\"sleep\",\"600\"]", "\"retry\":{\"maxAttempts\":2,\"backoffSeconds\":0}");
    String lost = submit("[\"sleep\",\"600\"]", null);
    String stubborn = submit("[\"sh\",\"-c\",\"trap '' TERM; sleep 600\"]", "\"cancelGraceSeconds\":600");
    String queued = submit("[\"sleep\",\"600\"]", null); // the pool has 3 slots: this one waits
    long retriedPid = awaitState(retried, "running").get("worker").get("pid").asLong();
    long lostPid = awaitState(lost, "running").get("worker").get("pid").asLong();
    long stubbornPid = awaitState(stubborn, "running").get("worker").get("pid").asLong();
    strayPids.addAll(List.of(retriedPid, lostPid, stubbornPid));
    assertEquals("pending", get(stubborn.equals(queued) ? stubborn : queued).get("state").asText());
    assertEquals(202, post("/v1/runs/" + stubborn + "/cancel", "{\"reason\":\"crash test\"}").statusCode());
    assertEquals("cancelling", get(stubborn).get("state").asText());
    List<String> runs = List.of(retried, lost, stubborn, queued);
    List<JsonNode> journalsBefore = new ArrayList<>();
    for (String id : runs) {
      journalsBefore.add(events(id));
    }

    List<ProcessHandle> trees = new ArrayList<>();
    for (long pid : List.of(retriedPid, lostPid, stubbornPid)) {
      ProcessHandle root = ProcessHandle.of(pid).orElseThrow();
      trees.add(root);
      trees.addAll(root.descendants().toList());
    }
    first.destroyForcibly(); // SIGKILL: no shutdown hook, no clean-up
    assertTrue(first.waitFor(30, TimeUnit.SECONDS));
    // the node's watchdog outlives the JVM by one step: it kills every process group of the node
    for (ProcessHandle p : trees) {
      Awaitility.await("pid " + p.pid() + " killed by the watchdog").atMost(Duration.ofSeconds(5))
          .until(() -> !p.isAlive());
    }

    startServer(dataDir, remotePort);
    awaitReady();
    // ready means the runs of the crashed life are resolved: none still shows a dead pid as running
    for (String id : List.of(retried, lost, stubborn)) {
      JsonNode run = get(id);
      assertFalse(List.of(retriedPid, lostPid, stubbornPid).contains(run.path("worker").path("pid").asLong()),
          id + " still shows a process of the crashed node: " + run);
    }
    // The entities come back by themselves (remembered entities): watch their journals only.
    await("the retried run records its lost worker", () -> types(retried).contains("WorkerLost"));
    await("the other run records its lost worker", () -> types(lost).contains("WorkerLost"));
    await("the cancelling run finishes its cancel", () -> types(stubborn).contains("WorkerLost"));
    await("the queued run starts", () -> types(queued).contains("AttemptStarted"));

    JsonNode r = awaitState(retried, "running");
    assertEquals(2, r.get("attempt").asInt(), "a lost attempt with retries left is retried as a new attempt");
    assertFalse(List.of(retriedPid, lostPid, stubbornPid).contains(r.get("worker").get("pid").asLong()));
    strayPids.add(r.get("worker").get("pid").asLong());
    JsonNode l = get(lost);
    assertEquals("failed", l.get("state").asText());
    assertEquals("worker_lost", l.get("exit").get("reason").asText());
    assertEquals("cancelled", get(stubborn).get("state").asText());
    for (int i = 0; i < runs.size(); i++) {
      JsonNode before = journalsBefore.get(i);
      JsonNode after = events(runs.get(i));
      assertTrue(after.size() > before.size(), "the restart added to " + runs.get(i) + "'s journal");
      for (int seq = 0; seq < before.size(); seq++) {
        assertEquals(before.get(seq), after.get(seq), "every event written before the crash survives it unchanged");
      }
    }

    for (String id : List.of(retried, queued)) {
      post("/v1/runs/" + id + "/cancel?wait=20s", null);
    }
  }

  private Process startServer(Path dataDir, int remotePort) throws IOException {
    Process p = ServerProcess.start(dataDir, httpPort, remotePort, Map.of("REINS_WORKER_SLOTS", "3"));
    servers.add(p);
    return p;
  }

  private void awaitReady() {
    ServerProcess.awaitReady(api);
  }

  private String submit(String command, String extra) throws Exception {
    return api.submit(command, extra);
  }

  private JsonNode get(String id) throws Exception {
    return ApiClient.json(api.get("/v1/runs/" + id));
  }

  private JsonNode events(String id) throws Exception {
    HttpResponse<String> r = api.get("/v1/runs/" + id + "/events");
    assertEquals(200, r.statusCode(), r.body());
    return ApiClient.json(r);
  }

  private List<String> types(String id) throws Exception {
    List<String> out = new ArrayList<>();
    events(id).forEach(e -> out.add(e.get("type").asText()));
    return out;
  }

  private JsonNode awaitState(String id, String state) {
    return api.awaitState(id, state, Duration.ofSeconds(60));
  }

  private HttpResponse<String> post(String path, String body) throws Exception {
    return api.post(path, body);
  }

  /** Polls a condition on the other JVM (there is nothing to subscribe to) for up to 60 s. */
  private static void await(String what, Callable<Boolean> check) {
    Awaitility.await(what).atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(check);
  }
}
