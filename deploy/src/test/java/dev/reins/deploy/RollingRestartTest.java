package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.http.ApiClient;
import dev.reins.persistence.TestDatabases;
import dev.reins.persistence.TestDatabases.TestDatabase;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three nodes of the built distribution ({@code deploy/local-cluster.sh}, as in {@link
 * LocalClusterTest}) leave gracefully. First node 2 alone, with attempts in flight: its readiness
 * answers 503 before its listener closes; an attempt that ends within {@code REINS_DRAIN_SECONDS}
 * ends as usual; the others are stopped (TERM, and KILL after the run's grace for a process that
 * ignores TERM), recorded as interrupted by {@code node_shutdown} without using their retry budget
 * (they allow one attempt) and run again on the other nodes. Then every node in turn is restarted
 * (SIGTERM, drain, start) under a load of submits and cancels sent to all of them, each time with an
 * attempt on it that outlives the drain: every submit and cancel that got a 2xx took effect, the
 * interrupted attempts ran again elsewhere, and every journal folds to its run.
 *
 * <p>Runs in the integration-test phase (failsafe): it needs the distribution that package builds.
 */
class RollingRestartTest {
  private static final Path DEPLOY = Path.of("").toAbsolutePath();
  private static final Path SCRIPT = DEPLOY.resolve("local-cluster.sh");
  private static final int NODES = 3;
  private static final int LEAVING = 2;
  private static final int DRAIN_SECONDS = 8;
  private static final String JAVA_OPTS = "-Xmx256m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1";
  private static final Duration START = Duration.ofMinutes(4);
  private static final Duration WAIT = Duration.ofMinutes(2);
  private static final String ONE_ATTEMPT = "\"retry\":{\"maxAttempts\":1}";

  private final long t0 = System.nanoTime();
  private final List<String> timeline = Collections.synchronizedList(new ArrayList<>());
  private final Set<String> acknowledged = ConcurrentHashMap.newKeySet();
  /** Runs whose cancel was accepted and changed them (Reins-Outcome: changed). */
  private final Set<String> cancelled = ConcurrentHashMap.newKeySet();
  private final List<String> recent = new CopyOnWriteArrayList<>();
  /** One run per rolling restart that outlives the drain of its node. */
  private final List<String> outlivers = new CopyOnWriteArrayList<>();
  private final Map<String, AtomicInteger> answers = new ConcurrentHashMap<>();
  private final List<String> unexpected = Collections.synchronizedList(new ArrayList<>());

  private Path clusterDir;
  private Map<String, String> scriptEnv;
  private int baseHttp;
  private int baseRemote;
  private String token;

  @Test
  @Timeout(value = 12, unit = TimeUnit.MINUTES)
  void aLeavingNodeDrainsItsAttemptsAndARollingRestartUnderLoadLosesNoAcceptedRequest(@TempDir Path tmp) throws Exception {
    assertTrue(Files.isExecutable(DEPLOY.resolve("target/reins/bin/reins")),
        "no distribution in target/reins: this test runs after package (mvn verify)");
    try (TestDatabase db = TestDatabases.fresh(TestDatabases.Backend.POSTGRES, tmp)) {
      scriptEnv = new HashMap<>();
      scriptEnv.put("REINS_JAVA_OPTS", JAVA_OPTS);
      scriptEnv.put("REINS_DB_USER", db.journal().user());
      scriptEnv.put("REINS_DB_PASSWORD", db.journal().password());
      scriptEnv.put("REINS_DRAIN_SECONDS", Integer.toString(DRAIN_SECONDS));
      // readiness answers 503 this long before the listener closes
      scriptEnv.put("REINS_UNREADY_DELAY", "2s");
      clusterDir = DEPLOY.resolve("target/rolling-restart-test");
      if (Files.exists(clusterDir.resolve("nodes"))) {
        script(Duration.ofMinutes(2), "stop", "--dir", clusterDir.toString(), "--timeout", "30");
      }
      LocalClusterTest.deleteTree(clusterDir);
      baseHttp = LocalClusterTest.freeRange(NODES);
      baseRemote = LocalClusterTest.freeRange(NODES);
      try {
        mark("starting " + NODES + " nodes in " + clusterDir);
        script(START, "start", Integer.toString(NODES), "--db-url", db.journal().url(), "--dir", clusterDir.toString(),
            "--base-http-port", Integer.toString(baseHttp), "--base-remote-port", Integer.toString(baseRemote),
            "--slots", "3", "--timeout", Long.toString(START.toSeconds() - 10));
        token = Files.readString(clusterDir.resolve("admin.token")).trim();
        mark("cluster ready");
        aLeavingNodeDrains();
        aRollingRestartUnderLoadLosesNothing();
      } finally {
        mark("stopping the cluster");
        try {
          script(Duration.ofMinutes(2), "stop", "--dir", clusterDir.toString(), "--timeout", "60");
        } finally {
          System.out.println(String.join("\n", timeline));
        }
      }
    }
  }

  private void aLeavingNodeDrains() throws Exception {
    ApiClient node1 = client(1);
    String leaving = address(LEAVING);
    // attempts on node 2 that outlive the drain: one that ends on TERM, one that ignores it
    String plain = submitUntilOn(leaving, "[\"sleep\",\"300\"]", ONE_ATTEMPT);
    String stubborn = submitUntilOn(leaving, "[\"sh\",\"-c\",\"trap '' TERM; sleep 300\"]",
        ONE_ATTEMPT + ",\"cancelGraceSeconds\":2");
    // and one that ends within the drain
    String finishing = submitUntilOn(leaving, "[\"sleep\",\"4\"]", ONE_ATTEMPT);
    mark("node " + LEAVING + " runs " + plain + " (sleep 300), " + stubborn + " (ignores TERM), " + finishing
        + " (sleep 4): SIGTERM");

    long pid = Long.parseLong(Files.readString(clusterDir.resolve("node-" + LEAVING + "/pid")).trim());
    ProcessHandle server = ProcessHandle.of(pid).orElseThrow();
    List<String> readiness = new ArrayList<>();
    ApiClient leavingApi = client(LEAVING);
    assertEquals(200, leavingApi.get("/v1/health/ready").statusCode(), "node " + LEAVING + " is ready before");
    Runtime.getRuntime().exec(new String[] {"kill", "-TERM", Long.toString(pid)}).waitFor();
    // readiness from SIGTERM until the listener closes: 503, never 200 again
    Awaitility.await("node " + LEAVING + " closes its listener").atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> {
      try {
        readiness.add(Integer.toString(leavingApi.get("/v1/health/ready").statusCode()));
        return false;
      } catch (IOException e) {
        readiness.add("closed");
        return true;
      }
    });
    List<String> seen = readiness.stream().distinct().toList();
    mark("readiness of node " + LEAVING + " after SIGTERM: " + seen);
    assertTrue(seen.contains("503"), "readiness answered 503 before the listener closed: " + readiness);
    assertFalse(readiness.subList(readiness.indexOf("503"), readiness.size()).contains("200"), "no 200 after a 503: " + readiness);

    JsonNode ended = node1.awaitState(finishing, "succeeded", WAIT);
    assertEquals(1, ended.get("attempt").asInt(), "the attempt that ended within the drain ended as usual: " + ended);
    for (String id : List.of(plain, stubborn)) {
      JsonNode again = Awaitility.await("run " + id + " runs again on another node").atMost(WAIT)
          .pollInterval(Duration.ofMillis(200))
          .until(() -> ApiClient.json(node1.get("/v1/runs/" + id)),
              run -> run.get("state").asText().equals("running") && run.get("attempt").asInt() == 2);
      assertFalse(again.path("worker").path("node").asText().equals(leaving), again.toString());
      JsonNode interrupted = event(id, "AttemptInterrupted");
      assertEquals("node_shutdown", interrupted.path("data").path("reason").asText(), interrupted.toString());
      assertEquals(id.equals(plain) ? "TERM" : "KILL", interrupted.path("data").path("signal").asText(),
          "the stop is a cancel's: TERM, then KILL after the run's grace: " + interrupted);
    }
    Awaitility.await("node " + LEAVING + " exits").atMost(WAIT).until(() -> !server.isAlive());
    mark("node " + LEAVING + " drained and exited; its runs run elsewhere as attempt 2 of 1 allowed");
    script(START, "restart", Integer.toString(LEAVING), "--dir", clusterDir.toString(),
        "--timeout", Long.toString(START.toSeconds() - 10));
    mark("node " + LEAVING + " ready again");
    for (String id : List.of(plain, stubborn)) {
      node1.post("/v1/runs/" + id + "/cancel?wait=30s", null);
    }
  }

  private void aRollingRestartUnderLoadLosesNothing() throws Exception {
    AtomicBoolean loading = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      for (int c = 0; c < 3; c++) {
        pool.submit(() -> load(loading));
      }
      Awaitility.await("the load runs").atMost(WAIT).until(() -> acknowledged.size() >= 10);
      for (int i = 1; i <= NODES; i++) {
        // an attempt on the node that outlives its drain: interrupted, it must run again elsewhere
        String outliving = submitUntilOn(address(i), "[\"sleep\",\"" + (DRAIN_SECONDS + 12) + "\"]", ONE_ATTEMPT);
        acknowledged.add(outliving);
        outlivers.add(outliving);
        mark("restarting node " + i + " under load (" + acknowledged.size() + " runs acknowledged so far; " + outliving
            + " outlives the drain)");
        script(START, "restart", Integer.toString(i), "--dir", clusterDir.toString(),
            "--timeout", Long.toString(START.toSeconds() - 10));
        mark("node " + i + " ready again");
      }
      int before = acknowledged.size();
      Awaitility.await("the restarted cluster takes runs").atMost(WAIT).until(() -> acknowledged.size() >= before + 10);
    } finally {
      loading.set(false);
      pool.shutdown();
    }
    assertTrue(pool.awaitTermination(2, TimeUnit.MINUTES), "the clients stop");
    mark("load stopped: " + acknowledged.size() + " runs acknowledged, " + cancelled.size() + " cancels; answers "
        + new TreeMap<>(answers));
    assertEquals(List.of(), unexpected, "answers other than 2xx, 409, 429 and 503 with Retry-After");

    List<ApiClient> nodes = new ArrayList<>();
    for (int i = 1; i <= NODES; i++) {
      nodes.add(client(i));
    }
    Awaitility.await("three up members").atMost(WAIT).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
      for (ApiClient api : nodes) {
        Map<String, JsonNode> members = LocalClusterTest.members(api);
        assertEquals(NODES, members.size(), members.keySet().toString());
        for (JsonNode m : members.values()) {
          assertEquals("up", m.get("status").asText(), m.toString());
        }
      }
    });
    // every accepted submit is a run that ends; every accepted cancel ended its run cancelled
    Map<String, JsonNode> finals = new TreeMap<>();
    Awaitility.await("every acknowledged run ends").atMost(WAIT).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
      List<String> open = new ArrayList<>();
      for (String id : acknowledged) {
        if (finals.containsKey(id)) {
          continue;
        }
        HttpResponse<String> r = nodes.get(ThreadLocalRandom.current().nextInt(NODES)).get("/v1/runs/" + id);
        assertEquals(200, r.statusCode(), "acknowledged run " + id + " exists: " + r.body());
        JsonNode run = ApiClient.json(r);
        if (LocalClusterTest.terminal(run)) {
          finals.put(id, run);
        } else {
          open.add(id + " " + run.get("state").asText());
        }
      }
      assertEquals(List.of(), open);
    });
    List<String> cancelLost = new ArrayList<>();
    for (String id : cancelled) {
      if (!finals.get(id).get("state").asText().equals("cancelled")) {
        cancelLost.add(id + " " + finals.get(id));
      }
    }
    assertEquals(List.of(), cancelLost, "runs whose accepted cancel did not cancel them");
    for (String id : outlivers) {
      JsonNode run = finals.get(id);
      assertEquals("succeeded", run.get("state").asText(), "interrupted by a restart, it ran again elsewhere: " + run);
      // (a later restart may have interrupted its next attempt too): one attempt allowed, never counted
      assertTrue(run.get("attempt").asInt() >= 2, run.toString());
      assertEquals("node_shutdown", event(id, "AttemptInterrupted").path("data").path("reason").asText());
    }
    int interrupted = 0;
    for (String id : acknowledged) {
      ApiClient api = nodes.get(ThreadLocalRandom.current().nextInt(NODES));
      JsonNode events = ApiClient.json(api.get("/v1/runs/" + id + "/events"));
      JsonNode shown = finals.get(id);
      assertEquals(shown, LocalClusterTest.replay(events, shown.get("version").asLong()), "run " + id + ": the journal folds to the run");
      for (JsonNode e : events) {
        interrupted += e.get("type").asText().equals("AttemptInterrupted") ? 1 : 0;
      }
    }
    mark("every acknowledged run ended and folds to its journal; " + interrupted + " attempt(s) interrupted by a restart");
  }

  /** One client: short runs (one attempt allowed), and cancels of recent ones, to random nodes. */
  private void load(AtomicBoolean loading) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    while (loading.get()) {
      ApiClient api = client(random.nextInt(1, NODES + 1));
      try {
        if (random.nextInt(10) < 6 || recent.isEmpty()) {
          String seconds = String.format(java.util.Locale.ROOT, "%.1f", 0.5 + random.nextDouble() * 4);
          HttpResponse<String> r = api.post("/v1/runs", "{\"executor\":{\"type\":\"process\",\"command\":[\"sleep\",\""
              + seconds + "\"]}," + ONE_ATTEMPT + "}");
          if (record("submit", r)) {
            String id = ApiClient.json(r).get("id").asText();
            acknowledged.add(id);
            recent.add(id);
          }
        } else {
          String id = recent.get(Math.max(0, recent.size() - 1 - random.nextInt(Math.min(recent.size(), 20))));
          HttpResponse<String> r = api.post("/v1/runs/" + id + "/cancel", "{\"reason\":\"load\"}");
          if (record("cancel", r) && "changed".equals(r.headers().firstValue("Reins-Outcome").orElse(""))) {
            cancelled.add(id);
          }
        }
      } catch (IOException e) {
        answers.computeIfAbsent("no answer", k -> new AtomicInteger()).incrementAndGet();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      try {
        Thread.sleep(100 + random.nextInt(200)); // pacing the load, not waiting for a result
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private boolean record(String op, HttpResponse<String> r) {
    answers.computeIfAbsent(op + " " + r.statusCode(), k -> new AtomicInteger()).incrementAndGet();
    int s = r.statusCode();
    boolean ok = s / 100 == 2;
    boolean refused = s == 409 || s == 429 || (s == 503 && r.headers().firstValue("Retry-After").isPresent());
    if (!ok && !refused) {
      unexpected.add(op + " answered " + s + ": " + r.body());
    }
    return ok;
  }

  /** Submits through node 1 until a run of {@code command} runs on {@code node}; cancels the others. */
  private String submitUntilOn(String node, String command, String extra) throws Exception {
    ApiClient node1 = client(1);
    for (int i = 0; i < 40; i++) {
      String id = node1.submit(command, extra);
      JsonNode run = node1.awaitState(id, "running", WAIT);
      if (run.path("worker").path("node").asText().equals(node)) {
        return id;
      }
      node1.post("/v1/runs/" + id + "/cancel?wait=30s", null);
    }
    throw new AssertionError("no run was placed on " + node);
  }

  private JsonNode event(String id, String type) throws IOException, InterruptedException {
    for (JsonNode e : ApiClient.json(client(1).get("/v1/runs/" + id + "/events"))) {
      if (e.get("type").asText().equals(type)) {
        return e;
      }
    }
    throw new AssertionError("run " + id + " has no " + type + " event");
  }

  private String address(int node) {
    return "pekko://reins@127.0.0.1:" + (baseRemote + node - 1);
  }

  private ApiClient client(int node) {
    return new ApiClient(baseHttp + node - 1, token);
  }

  /** Runs {@code local-cluster.sh}; its output goes to a file (a node must not hold a pipe of ours). */
  private void script(Duration timeout, String... args) throws IOException, InterruptedException {
    LocalClusterTest.runScript(scriptEnv, this::mark, timeout, args);
  }

  private void mark(String what) {
    timeline.add(String.format(java.util.Locale.ROOT, "%7.1f s  %s", (System.nanoTime() - t0) / 1e9, what));
  }
}
