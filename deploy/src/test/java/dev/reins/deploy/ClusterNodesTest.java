package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.http.ApiClient;
import dev.reins.http.TestServer;
import dev.reins.persistence.TestDatabases;
import dev.reins.persistence.TestDatabases.TestDatabase;
import dev.reins.protocol.run.RunState;
import dev.reins.runtime.run.RunEntity;
import dev.reins.runtime.worker.PidFiles;
import dev.reins.runtime.worker.ProcessWorker;
import dev.reins.runtime.worker.WorkerPool;
import dev.reins.runtime.worker.WorkerReport;
import dev.reins.runtime.worker.WorkerSettings;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Three full Reins nodes (actor system, sharding, worker pool, HTTP) in this JVM, on loopback
 * ports, forming one cluster over one PostgreSQL journal (a fresh schema for this class). Node A
 * has one worker slot, node C one, node B eight: what A and C cannot run, B must.
 *
 * <p>Skipped with a message when there is no PostgreSQL ({@code REINS_TEST_JDBC_URL}, else
 * Testcontainers with Docker).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClusterNodesTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String LONG = "[\"sleep\",\"120\"]";

  private Path tmp;
  private TestDatabase db;
  private TestServer a;
  private TestServer b;
  private TestServer c;
  private final List<String> started = new ArrayList<>();

  @BeforeAll
  void startCluster() throws Exception {
    tmp = Files.createTempDirectory("reins-cluster-test-");
    db = TestDatabases.fresh(TestDatabases.Backend.POSTGRES, tmp);
    int portA = freePort();
    int portB = freePort();
    int portC = freePort();
    String seeds = "127.0.0.1:" + portA;
    a = TestServer.start(node(portA, seeds, 1));
    b = TestServer.start(node(portB, seeds, 8));
    c = TestServer.start(node(portC, seeds, 1));
    // every node sees the three members Up, and every pool knows the others' slots
    for (TestServer s : List.of(a, b, c)) {
      TestServer.awaitAssert(WAIT, () -> {
        JsonNode members = ApiClient.json(s.get("/v1/cluster")).get("members");
        assertEquals(3, members.size(), members.toString());
        for (JsonNode m : members) {
          assertEquals("up", m.get("status").asText(), m.toString());
          assertTrue(m.get("slots").isObject(), "slots of " + m);
        }
      });
    }
  }

  private Map<String, Object> node(int remotePort, String seeds, int slots) {
    Map<String, Object> config = new HashMap<>();
    config.put("reins.db.url", db.journal().url());
    config.put("reins.db.user", db.journal().user());
    config.put("reins.db.password", db.journal().password());
    config.put("reins.remote.port", remotePort);
    config.put("reins.cluster.seed-nodes", seeds);
    config.put("reins.worker.slots", slots);
    return config;
  }

  /** Each test starts with every slot free. */
  @AfterEach
  void cancelRuns() throws Exception {
    for (String id : started) {
      a.post("/v1/runs/" + id + "/cancel?wait=15s", null);
    }
    started.clear();
    TestServer.awaitNoChildProcesses(WAIT);
  }

  @AfterAll
  void stopCluster() throws Exception {
    try {
      cancelRuns();
    } finally {
      for (TestServer s : new TestServer[] {c, b, a}) {
        if (s != null) {
          s.close();
        }
      }
      if (db != null) {
        db.close();
      }
    }
  }

  @Test
  @Order(1)
  void aRunSubmittedOnAFullNodeRunsOnANodeWithAFreeSlot() throws Exception {
    // fill A's and C's single slots (a run goes to its entity's node when that has room, so keep
    // submitting until both are busy; runs that land on B are cancelled, so B never fills up
    // however the shards happen to be spread)
    for (int i = 0; i < 40 && !(busy(a) && busy(c)); i++) {
      String id = submit(a, LONG);
      JsonNode run = a.awaitState(id, "running", WAIT);
      if (run.path("worker").path("node").asText().equals(address(b))) {
        a.post("/v1/runs/" + id + "/cancel?wait=15s", null);
      }
    }
    // the slots /v1/cluster shows are what the pools last told each other: wait for them to agree
    TestServer.awaitAssert(WAIT, () -> assertTrue(busy(a) && busy(c), "A and C each run an attempt in their one slot"));

    List<String> runs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      runs.add(submit(a, LONG));
    }
    for (String id : runs) {
      JsonNode run = a.awaitState(id, "running", WAIT);
      assertEquals(address(b), run.path("worker").path("node").asText(),
          "run " + id + " was submitted on A, which is full, as is C: it runs on B, the node with free slots");
      assertTrue(ProcessHandle.of(run.path("worker").path("pid").asLong()).map(ProcessHandle::isAlive).orElse(false),
          "its process runs: " + run);
    }
  }

  @Test
  @Order(2)
  void aCancelSentToNodeCKillsTheProcessOnNodeB() throws Exception {
    String id = submitRunningOn(b);
    long pid = a.awaitState(id, "running", WAIT).path("worker").path("pid").asLong();
    ProcessHandle process = ProcessHandle.of(pid).orElseThrow();

    HttpResponse<String> r = c.post("/v1/runs/" + id + "/cancel?wait=30s", "{\"reason\":\"from C\"}");
    assertEquals(200, r.statusCode(), r.body());
    JsonNode run = ApiClient.json(r);
    assertEquals("cancelled", run.get("state").asText(), run.toString());
    TestServer.awaitAssert(WAIT, () -> assertFalse(process.isAlive(), "process " + pid + " on B is gone"));
    assertEquals("from C", run.path("cancel").path("reason").asText(), run.toString());
  }

  @Test
  @Order(3)
  void everyRunAndDelegationEndpointAnswersTheSameFromEveryNode() throws Exception {
    // a run that printed something on B, ended, and delegated to a child run meanwhile
    String id = submitRunningOn(b, "[\"sh\",\"-c\",\"echo hello from the run; sleep 3; echo bye\"]");
    HttpResponse<String> created = c.post("/v1/runs/" + id + "/delegations",
        "{\"target\":{\"type\":\"run\",\"executor\":{\"type\":\"process\",\"command\":[\"echo\",\"child\"]}}}");
    assertEquals(202, created.statusCode(), created.body());
    String delegation = ApiClient.json(created).get("id").asText();
    a.awaitState(id, "succeeded", WAIT);
    TestServer.awaitAssert(WAIT, () -> {
      JsonNode d = ApiClient.json(b.get("/v1/runs/" + id + "/delegations/" + delegation));
      assertEquals("completed", d.path("state").asText(), d.toString());
    });
    String unknown = UUID.randomUUID().toString();

    List<String[]> requests = List.of(
        new String[] {"GET", "/v1/runs/" + id, null},
        new String[] {"GET", "/v1/runs/" + id + "/events", null},
        new String[] {"GET", "/v1/runs/" + id + "/logs", null},
        new String[] {"GET", "/v1/runs/" + id + "/logs?attempt=1&tail=1", null},
        new String[] {"GET", "/v1/runs/" + id + "/delegations", null},
        new String[] {"GET", "/v1/runs/" + id + "/delegations/" + delegation, null},
        // commands that change nothing: the same refusal everywhere
        new String[] {"POST", "/v1/runs/" + id + "/cancel", "{\"reason\":\"late\"}"},
        new String[] {"POST", "/v1/runs/" + id + "/delegations/" + delegation + "/cancel", null},
        new String[] {"POST", "/v1/runs/" + id + "/reset", "{\"attempt\":7}"},
        new String[] {"GET", "/v1/runs/" + unknown, null},
        new String[] {"GET", "/v1/runs/" + unknown + "/events", null},
        new String[] {"GET", "/v1/runs/" + unknown + "/logs", null},
        new String[] {"GET", "/v1/runs/" + unknown + "/delegations", null},
        new String[] {"POST", "/v1/runs/" + unknown + "/cancel", "{}"});
    for (String[] req : requests) {
      HttpResponse<String> fromA = a.send(req[0], req[1], req[2]);
      assertTrue(fromA.statusCode() < 500, req[0] + " " + req[1] + " answered " + fromA.statusCode() + ": " + fromA.body());
      for (TestServer other : List.of(b, c)) {
        HttpResponse<String> r = other.send(req[0], req[1], req[2]);
        assertEquals(fromA.statusCode(), r.statusCode(), req[0] + " " + req[1] + " on another node: " + r.body());
        assertEquals(fromA.body(), r.body(), req[0] + " " + req[1] + " answers the same from every node");
      }
    }
    assertTrue(a.get("/v1/runs/" + id + "/logs").body().contains("hello from the run"), "A serves the log kept on B");

    // a run submitted through each node is one run: the same idempotency key gives the same run everywhere
    String body = "{\"executor\":{\"type\":\"process\",\"command\":[\"true\"]},\"idempotencyKey\":\"cluster-" + UUID.randomUUID() + "\"}";
    String first = ApiClient.json(a.post("/v1/runs", body)).get("id").asText();
    for (TestServer other : List.of(b, c)) {
      HttpResponse<String> again = other.post("/v1/runs", body);
      assertTrue(again.statusCode() / 100 == 2, again.body());
      assertEquals(first, ApiClient.json(again).get("id").asText());
    }
  }

  @Test
  @Order(4)
  void aForgedOrDuplicateWorkerReportIsRefusedNeverRecordedAndItsProcessStopped() throws Exception {
    String id = submitRunningOn(b);
    JsonNode before = a.awaitState(id, "running", WAIT);
    long eventsBefore = events(id).size();
    ActorSystem<Void> systemC = c.server.system();
    String nodeC = address(c);
    var report = RunEntity.reportRouter(systemC);

    // a forged worker on C claims the attempt B runs, then says it started it
    BlockingQueue<ProcessWorker.Command> heard = new LinkedBlockingQueue<>();
    ActorRef<ProcessWorker.Command> forger = systemC.systemActorOf(recorder(heard), "forger-" + UUID.randomUUID(), Props.empty());
    report.accept(id, new WorkerReport.Claim(id, 1, nodeC, forger));
    ProcessWorker.Command answer = heard.poll(30, TimeUnit.SECONDS);
    assertTrue(answer instanceof ProcessWorker.ClaimDenied d && d.attempt() == 1, "the claim is denied: " + answer);
    report.accept(id, new WorkerReport.Started(id, 1, nodeC, 999_999, forger));
    List<ProcessWorker.Command> toForger = new ArrayList<>();
    TestServer.awaitAssert(WAIT, () -> {
      heard.drainTo(toForger);
      assertTrue(toForger.stream().anyMatch(m -> m instanceof ProcessWorker.Stop s && s.attempt() == 1),
          "the forger is told to stop its process: " + toForger);
    });

    // a real worker on C that believes it was granted the attempt (a grant that reached the wrong
    // worker): it starts a second process, which the run refuses and stops
    RunState state = runState(systemC, id);
    AtomicReference<WorkerReport.Started> duplicateStarted = new AtomicReference<>();
    ActorRef<WorkerPool.Command> noPool = systemC.systemActorOf(Behaviors.ignore(), "no-pool-" + UUID.randomUUID(), Props.empty());
    Path dataDir = Files.createTempDirectory(tmp, "duplicate-");
    WorkerSettings settings = WorkerSettings.fromConfig(
        com.typesafe.config.ConfigFactory.parseMap(Map.of("reins.data-dir", dataDir.toString()))
            .withFallback(systemC.settings().config()));
    ActorRef<ProcessWorker.Command> duplicate = systemC.systemActorOf(
        ProcessWorker.create(id, state.tenant(), 1, state.spec(), nodeC, settings, (r, t, n, s) -> "no-token",
            new PidFiles(dataDir), (run, r) -> {
              if (r instanceof WorkerReport.Claim) {
                return; // its claim is lost on the way: it acts on the grant alone
              }
              if (r instanceof WorkerReport.Started st) {
                duplicateStarted.compareAndSet(null, st);
              }
              report.accept(run, r);
            }, noPool),
        "duplicate-" + UUID.randomUUID(), Props.empty());
    duplicate.tell(new ProcessWorker.ClaimGranted(1));
    long original = before.path("worker").path("pid").asLong();
    long second = TestServer.await(WAIT, () -> Objects.requireNonNull(duplicateStarted.get(), "the duplicate reported its start"))
        .pid();
    assertNotEquals(original, second);
    TestServer.awaitAssert(WAIT, () -> assertFalse(ProcessHandle.of(second).map(ProcessHandle::isAlive).orElse(false),
        "the duplicate's process " + second + " is stopped"));
    assertTrue(ProcessHandle.of(original).map(ProcessHandle::isAlive).orElse(false), "B's process runs on");

    JsonNode after = ApiClient.json(a.get("/v1/runs/" + id));
    assertEquals(before.get("worker"), after.get("worker"), "the run's worker is still B's");
    assertEquals(before.get("version").asLong(), after.get("version").asLong(), "nothing was recorded");
    JsonNode events = events(id);
    assertEquals(eventsBefore, events.size(), events.toString());
    for (JsonNode e : events) {
      assertNotEquals(nodeC, e.path("data").path("worker").path("node").asText(), "no event names C's workers: " + e);
    }
  }

  @Test
  @Order(5)
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void aSecondClusterOnTheSameDatabaseRefusesToStartAndTheFirstKeepsWorking() throws Exception {
    // no seed nodes in common: a fourth node on its own forms a cluster of its own
    Map<String, Object> config = node(freePort(), "", 2);
    IllegalStateException refused = assertThrows(IllegalStateException.class, () -> TestServer.start(config).close());
    assertTrue(refused.getMessage().contains("another Reins cluster is alive on this journal database"), refused.getMessage());
    assertTrue(refused.getMessage().contains("REINS_SEED_NODES"), "the error says what to do: " + refused.getMessage());

    String id = submit(c, "[\"echo\",\"still here\"]");
    b.awaitState(id, "succeeded", WAIT);
    for (TestServer s : List.of(a, b, c)) {
      assertEquals(3, ApiClient.json(s.get("/v1/cluster")).get("members").size());
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private String submit(TestServer via, String command) throws IOException, InterruptedException {
    String id = via.submit(command, null);
    started.add(id);
    return id;
  }

  /** Submits long runs through A until one runs on {@code node} (B has most of the slots). */
  private String submitRunningOn(TestServer node) throws Exception {
    return submitRunningOn(node, LONG);
  }

  private String submitRunningOn(TestServer node, String command) throws Exception {
    for (int i = 0; i < 10; i++) {
      String id = submit(a, command);
      JsonNode run = a.awaitState(id, "running", WAIT);
      if (run.path("worker").path("node").asText().equals(address(node))) {
        return id;
      }
      a.post("/v1/runs/" + id + "/cancel?wait=15s", null);
    }
    throw new AssertionError("no run was placed on " + address(node));
  }

  private boolean busy(TestServer node) throws IOException, InterruptedException {
    for (JsonNode m : ApiClient.json(a.get("/v1/cluster")).get("members")) {
      if (m.get("address").asText().equals(address(node))) {
        JsonNode slots = m.get("slots");
        return slots.get("busy").asInt() >= slots.get("total").asInt();
      }
    }
    return false;
  }

  private JsonNode events(String id) throws IOException, InterruptedException {
    HttpResponse<String> r = a.get("/v1/runs/" + id + "/events");
    assertEquals(200, r.statusCode(), r.body());
    return ApiClient.json(r);
  }

  private static RunState runState(ActorSystem<?> system, String id) throws Exception {
    return ClusterSharding.get(system).entityRefFor(RunEntity.TYPE_KEY, id)
        .<RunEntity.Reply>ask(RunEntity.Get::new, Duration.ofSeconds(10))
        .toCompletableFuture().get(15, TimeUnit.SECONDS).state();
  }

  private static Behavior<ProcessWorker.Command> recorder(BlockingQueue<ProcessWorker.Command> into) {
    return Behaviors.receiveMessage(m -> {
      into.add(m);
      return Behaviors.same();
    });
  }

  private static String address(TestServer node) {
    return Cluster.get(node.server.system()).selfMember().address().toString();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
