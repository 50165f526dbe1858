package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.http.A2aPeer;
import dev.reins.http.ApiClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The server is killed with SIGKILL while a delegation to an A2A agent (the official JS SDK peer)
 * is working, and started again on the same data directory: the delegation re-attaches to the same
 * remote task, keeps its absolute deadline, and completes; the peer saw one task, not two.
 */
class A2aCrashRecoveryTest {
  private final List<Process> servers = new ArrayList<>();
  private A2aPeer peer;

  @AfterEach
  void cleanUp() {
    servers.forEach(Process::destroyForcibly);
    if (peer != null) {
      peer.close();
    }
  }

  @Test
  void aDelegationSurvivesASigkillOfTheServerAndCompletesAgainstTheSameRemoteTask() throws Exception {
    peer = A2aPeer.start();
    Path dataDir = Files.createTempDirectory("reins-a2a-crash-");
    int httpPort = ServerProcess.freePort();
    int remotePort = ServerProcess.freePort();
    servers.add(ServerProcess.start(dataDir, httpPort, remotePort, Map.of()));
    ApiClient api = new ApiClient(httpPort, null);
    ServerProcess.awaitReady(api);
    api = api.as(Files.readString(dataDir.resolve("admin.token")).trim());

    String run = api.submit("[\"sleep\",\"600\"]", null);
    api.awaitState(run, "running", Duration.ofSeconds(60));
    // abandon: the parent's own attempt dies with the server; the delegation must not depend on it
    HttpResponse<String> created = api.post("/v1/runs/" + run + "/delegations",
        "{\"target\":{\"type\":\"a2a\",\"url\":\"" + peer.url() + "\",\"message\":{\"text\":\"survive\",\"data\":{\"waitForRelease\":true}}},"
            + "\"timeoutSeconds\":300,\"onParentEnd\":\"abandon\"}");
    assertEquals(202, created.statusCode(), created.body());
    String did = ApiClient.json(created).path("id").asText();
    ApiClient client = api;
    JsonNode before = Awaitility.await("the remote task is journaled").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
        .until(() -> ApiClient.json(client.get("/v1/runs/" + run + "/delegations/" + did)), d -> d.path("remote").hasNonNull("id"));
    String taskId = before.path("remote").path("id").asText();

    Process first = servers.get(0);
    first.destroyForcibly(); // SIGKILL
    assertTrue(first.waitFor(30, TimeUnit.SECONDS));
    servers.add(ServerProcess.start(dataDir, httpPort, remotePort, Map.of()));
    ServerProcess.awaitReady(api);

    // it is still the same delegation, with the same deadline, working on the same task
    JsonNode after = ApiClient.json(api.get("/v1/runs/" + run + "/delegations/" + did));
    assertEquals("working", after.path("state").asText(), after.toString());
    assertEquals(before.path("deadline").asText(), after.path("deadline").asText(), "the deadline survives the restart");
    assertEquals(taskId, after.path("remote").path("id").asText());
    // the task was waiting all along; the peer finishes it now, and the restarted server sees it
    assertEquals(1, peer.release());
    JsonNode done = Awaitility.await("the delegation completes").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
        .until(() -> ApiClient.json(client.get("/v1/runs/" + run + "/delegations/" + did)),
            d -> !List.of("pending", "working").contains(d.path("state").asText()));
    assertEquals("completed", done.path("state").asText(), done.toString());
    assertEquals(taskId, done.path("remote").path("id").asText());
    assertTrue(done.path("result").toString().contains("done: survive"), done.toString());
    JsonNode log = peer.log();
    assertEquals(1, log.path("tasks").size(), "the peer saw one task: " + log);
    assertTrue(log.path("cancels").isEmpty(), "and no cancel: " + log);
    api.post("/v1/runs/" + run + "/cancel", null);
  }
}
