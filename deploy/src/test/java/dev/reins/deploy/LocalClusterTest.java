package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.reins.http.ApiClient;
import dev.reins.persistence.TestDatabases;
import dev.reins.persistence.TestDatabases.TestDatabase;
import dev.reins.protocol.api.RunView;
import dev.reins.protocol.json.ReinsJson;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunState;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.function.Consumer;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three nodes of the built distribution, started by {@code deploy/local-cluster.sh} against one
 * PostgreSQL, under a steady load of submits, cancels and resets sent to all of them; node 2 is
 * killed with SIGKILL in the middle of it and started again. Afterwards every run that a client
 * was told about exists, has ended or runs on a live node, and its journal folds to what the API
 * shows; no two processes of one run were ever alive at once (a scan of the whole machine's
 * {@code /proc} every 50 ms, which finds job processes by the {@code REINS_RUN_ID} in their
 * environment) and no process is left whose run does not say it runs; node 2 is a member again.
 *
 * <p>Runs in the integration-test phase (failsafe): it needs the distribution that package builds.
 */
class LocalClusterTest {
  private static final Path DEPLOY = Path.of("").toAbsolutePath();
  private static final Path SCRIPT = DEPLOY.resolve("local-cluster.sh");
  private static final int NODES = 3;
  private static final int KILLED = 2;
  private static final int CLIENTS = 3;
  /** Small JVMs: the machine has two cores for three nodes, their jobs, Maven and this test. */
  private static final String JAVA_OPTS = "-Xmx256m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1";
  private static final Duration START = Duration.ofMinutes(4);
  private static final Duration SETTLE = Duration.ofMinutes(2);

  private final long t0 = System.nanoTime();
  private final List<String> timeline = Collections.synchronizedList(new ArrayList<>());

  // what the clients were told: every run of a 2xx answer, every answer's status
  private final Set<String> acknowledged = ConcurrentHashMap.newKeySet();
  private final List<String> recent = new CopyOnWriteArrayList<>();
  private final Map<String, AtomicInteger> answers = new ConcurrentHashMap<>();
  private final List<String> unexpected = Collections.synchronizedList(new ArrayList<>());
  private final AtomicIntegerArray acceptedByNode = new AtomicIntegerArray(NODES + 1);
  private final AtomicIntegerArray up = new AtomicIntegerArray(NODES + 1);
  private final AtomicBoolean longRuns = new AtomicBoolean(true);

  private Path clusterDir;
  private Map<String, String> scriptEnv;
  private int baseHttp;
  private int baseRemote;

  @Test
  @Timeout(value = 12, unit = TimeUnit.MINUTES)
  void aNodeKilledUnderLoadLosesNoRunStartsNoRunTwiceAndRejoins(@TempDir Path tmp) throws Exception {
    assertTrue(Files.isExecutable(DEPLOY.resolve("target/reins/bin/reins")),
        "no distribution in target/reins: this test runs after package (mvn verify)");
    try (TestDatabase db = TestDatabases.fresh(TestDatabases.Backend.POSTGRES, tmp)) {
      scriptEnv = new HashMap<>();
      scriptEnv.put("REINS_JAVA_OPTS", JAVA_OPTS);
      scriptEnv.put("REINS_DB_USER", db.journal().user());
      scriptEnv.put("REINS_DB_PASSWORD", db.journal().password());
      scriptEnv.put("REINS_DRAIN_SECONDS", "3");
      // kept in target/ for the logs of a failed run; what an earlier run left is stopped first
      clusterDir = DEPLOY.resolve("target/local-cluster-test");
      if (Files.exists(clusterDir.resolve("nodes"))) {
        script(Duration.ofMinutes(2), "stop", "--dir", clusterDir.toString(), "--timeout", "30");
      }
      deleteTree(clusterDir);
      baseHttp = freeRange(NODES);
      baseRemote = freeRange(NODES);
      ProcessScanner scanner = new ProcessScanner(apiUrls());
      Thread scanning = new Thread(scanner, "proc-scanner");
      try {
        mark("starting " + NODES + " nodes in " + clusterDir);
        script(START, "start", Integer.toString(NODES), "--db-url", db.journal().url(), "--dir", clusterDir.toString(),
            "--base-http-port", Integer.toString(baseHttp), "--base-remote-port", Integer.toString(baseRemote),
            "--slots", "4", "--timeout", Long.toString(START.toSeconds() - 10));
        for (int i = 1; i <= NODES; i++) {
          up.set(i, 1);
        }
        String token = Files.readString(clusterDir.resolve("admin.token")).trim();
        mark("cluster ready");
        scanning.start();
        underLoad(token);
        scanner.stop();
        scanning.join(10_000);
        verify(token, scanner);
      } finally {
        scanner.stop();
        mark("stopping the cluster");
        try {
          script(Duration.ofMinutes(2), "stop", "--dir", clusterDir.toString(), "--timeout", "60");
        } finally {
          scanner.killLeftovers();
          System.out.println(String.join("\n", timeline));
        }
      }
    }
  }

  @Test
  void theScanSeesTwoProcessesOfOneRunAliveAtOnce() throws Exception {
    String url = "http://127.0.0.1:1";
    ProcessScanner scanner = new ProcessScanner(Set.of(url));
    Thread scanning = new Thread(scanner, "proc-scanner");
    List<Process> twins = new ArrayList<>();
    try {
      scanning.start();
      for (int attempt = 1; attempt <= 3; attempt++) {
        // each in a process group of its own, as a worker starts an attempt; the third is another cluster's
        ProcessBuilder pb = new ProcessBuilder("setsid", "sleep", "30");
        pb.environment().put("REINS_RUN_ID", "scan-self-test");
        pb.environment().put("REINS_ATTEMPT", Integer.toString(attempt));
        pb.environment().put("REINS_API_URL", attempt <= 2 ? url : "http://127.0.0.1:2");
        twins.add(pb.start());
      }
      Awaitility.await("the scan reports the twins").atMost(Duration.ofSeconds(10)).until(() -> !scanner.overlaps().isEmpty());
      assertTrue(scanner.overlaps().get(0).contains("scan-self-test"), scanner.overlaps().toString());
      assertEquals(List.of(1, 2), scanner.snapshot().stream().map(JobProcess::attempt).sorted().toList(),
          "only the processes that name this cluster's API URL count");
    } finally {
      scanner.stop();
      twins.forEach(Process::destroyForcibly);
    }
  }

  /** The load runs throughout: before the kill, while node 2 is gone, and after its restart. */
  private void underLoad(String token) throws Exception {
    AtomicBoolean loading = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
    try {
      List<Future<?>> clients = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        clients.add(pool.submit(() -> load(token, loading)));
      }
      ApiClient node1 = client(1, token);
      String killedAddress = address(KILLED);
      // kill node 2 while it runs an attempt that outlives the failover, so that the kill takes work with it
      String victim = Awaitility.await("node " + KILLED + " runs a long attempt").atMost(Duration.ofMinutes(2))
          .pollInterval(Duration.ofMillis(500)).until(() -> longRunOn(node1, killedAddress), id -> id != null);
      mark("node " + KILLED + " runs " + victim + " and " + (busySlots(node1, killedAddress) - 1) + " other attempt(s): SIGKILL");
      longRuns.set(false);
      up.set(KILLED, 0);
      List<String> onKilled = runningOn(node1, killedAddress);
      script(Duration.ofMinutes(1), "kill", Integer.toString(KILLED), "--dir", clusterDir.toString());
      long killedAt = System.nanoTime();
      mark("node " + KILLED + " killed");
      Thread failover = measureFailover(node1, killedAddress, onKilled, killedAt);
      Awaitility.await("the others remove node " + KILLED).atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500))
          .until(() -> !members(node1).containsKey(killedAddress));
      mark("node " + KILLED + " removed from the cluster");
      failover.join(Duration.ofMinutes(2).toMillis());
      int before = acceptedByNode.get(1) + acceptedByNode.get(3);
      Awaitility.await("the others take runs without node " + KILLED).atMost(Duration.ofMinutes(2))
          .pollInterval(Duration.ofMillis(200)).until(() -> acceptedByNode.get(1) + acceptedByNode.get(3) >= before + 10);
      mark("restarting node " + KILLED);
      script(START, "restart", Integer.toString(KILLED), "--dir", clusterDir.toString(),
          "--timeout", Long.toString(START.toSeconds() - 10));
      up.set(KILLED, 1);
      mark("node " + KILLED + " ready again");
      int restarted = acceptedByNode.get(KILLED);
      Awaitility.await("node " + KILLED + " takes runs again").atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(200))
          .until(() -> acceptedByNode.get(KILLED) >= restarted + 5);
    } finally {
      loading.set(false);
      pool.shutdown();
    }
    assertTrue(pool.awaitTermination(2, TimeUnit.MINUTES), "the clients stop");
    mark("load stopped: " + acknowledged.size() + " runs acknowledged; answers " + new TreeMap<>(answers));
  }

  /** One client: submits short runs, cancels some, resets some, to random live nodes. */
  private void load(String token, AtomicBoolean loading) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    while (loading.get()) {
      int node = random.nextInt(1, NODES + 1);
      if (up.get(node) == 0) {
        pace(random);
        continue;
      }
      ApiClient api = client(node, token);
      int pick = random.nextInt(10);
      try {
        if (pick < 5 || recent.isEmpty()) {
          // short runs; before the kill, one in four outlives the failover (12 to 15 s on this
          // machine), so that an attempt of the killed node that kept running would still be alive
          // when its run starts the next attempt elsewhere
          double duration = longRuns.get() && random.nextInt(4) == 0
              ? 40 + random.nextDouble() * 20
              : 0.5 + random.nextDouble() * 2.5;
          String seconds = String.format(java.util.Locale.ROOT, "%.1f", duration);
          HttpResponse<String> r = api.post("/v1/runs", "{\"executor\":{\"type\":\"process\",\"command\":[\"sleep\",\""
              + seconds + "\"]},\"retry\":{\"maxAttempts\":2,\"backoffSeconds\":0}}");
          if (record("submit", r)) {
            String id = ApiClient.json(r).get("id").asText();
            acknowledged.add(id);
            recent.add(id);
            acceptedByNode.incrementAndGet(node);
          }
        } else {
          String id = recent.get(Math.max(0, recent.size() - 1 - random.nextInt(Math.min(recent.size(), 30))));
          String op = pick < 7 ? "cancel" : "reset";
          HttpResponse<String> r = api.post("/v1/runs/" + id + "/" + op, op.equals("cancel") ? "{\"reason\":\"load\"}" : null);
          if (record(op, r)) {
            acceptedByNode.incrementAndGet(node);
          }
        }
      } catch (IOException e) {
        answers.computeIfAbsent("no answer", k -> new AtomicInteger()).incrementAndGet();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      pace(random);
    }
  }

  /** Counts the answer; a 2xx is true. A 5xx other than 503 with Retry-After is never expected. */
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

  private static void pace(ThreadLocalRandom random) {
    try {
      Thread.sleep(100 + random.nextInt(200)); // pacing the load, not waiting for a result
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void verify(String token, ProcessScanner scanner) throws Exception {
    assertEquals(List.of(), scanner.overlaps(), "two processes of one run were alive at once");
    assertTrue(scanner.jobProcessesSeen() >= 20, "the /proc scan found the job processes (" + scanner.jobProcessesSeen()
        + " seen in " + scanner.scans() + " scans): without them it proves nothing");
    assertEquals(List.of(), unexpected, "answers other than 2xx, 409, 429 and 503 with Retry-After");
    List<ApiClient> nodes = new ArrayList<>();
    for (int i = 1; i <= NODES; i++) {
      nodes.add(client(i, token));
    }

    // node 2 rejoined: every node sees three Up, reachable members
    Awaitility.await("three up members").atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
      for (ApiClient api : nodes) {
        Map<String, JsonNode> members = members(api);
        assertEquals(NODES, members.size(), "members seen by node on port " + api.port() + ": " + members.keySet());
        for (JsonNode m : members.values()) {
          assertEquals("up", m.get("status").asText(), m.toString());
          assertTrue(m.get("reachable").asBoolean(), m.toString());
        }
      }
    });
    Set<String> live = members(nodes.get(0)).keySet();
    mark("node " + KILLED + " rejoined: " + live);

    // every acknowledged run settles: terminal, or running on a live node
    Map<String, JsonNode> finals = new TreeMap<>();
    Awaitility.await("every acknowledged run is terminal or running on a live node").atMost(SETTLE)
        .pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
          List<String> unsettled = new ArrayList<>();
          for (String id : acknowledged) {
            JsonNode run = finals.get(id);
            if (run == null || !terminal(run)) {
              HttpResponse<String> r = nodes.get(ThreadLocalRandom.current().nextInt(NODES)).get("/v1/runs/" + id);
              assertEquals(200, r.statusCode(), "acknowledged run " + id + " exists: " + r.body());
              run = ApiClient.json(r);
              finals.put(id, run);
            }
            boolean runsOnLiveNode = run.get("state").asText().equals("running")
                && live.contains(run.path("worker").path("node").asText());
            if (!terminal(run) && !runsOnLiveNode) {
              unsettled.add(id + " " + run.get("state").asText() + " on " + run.path("worker").path("node").asText());
            }
          }
          assertEquals(List.of(), unsettled);
        });
    mark("every run settled");

    // each journal folds (RunState.apply) to what the API shows
    int lostWorkers = 0;
    for (String id : acknowledged) {
      ApiClient api = nodes.get(ThreadLocalRandom.current().nextInt(NODES));
      JsonNode shown;
      JsonNode events;
      JsonNode again;
      do {
        shown = ApiClient.json(api.get("/v1/runs/" + id));
        HttpResponse<String> r = api.get("/v1/runs/" + id + "/events");
        assertEquals(200, r.statusCode(), r.body());
        events = ApiClient.json(r);
        again = ApiClient.json(api.get("/v1/runs/" + id));
      } while (shown.get("version").asLong() != again.get("version").asLong()); // a running run may end meanwhile
      assertEquals(shown, replay(events, shown.get("version").asLong()), "run " + id + ": the journal folds to the run");
      for (JsonNode e : events) {
        lostWorkers += e.get("type").asText().equals("WorkerLost") ? 1 : 0;
      }
    }
    assertTrue(lostWorkers > 0, "the kill took attempts with it, and their runs recorded the lost worker");
    mark("journals replayed; " + lostWorkers + " lost worker(s) recorded");

    // processes: now none whose run does not say it runs that attempt
    List<String> strays = new ArrayList<>();
    for (JobProcess p : scanner.snapshot()) {
      JsonNode run = ApiClient.json(nodes.get(0).get("/v1/runs/" + p.runId()));
      boolean owned = run.path("state").asText().equals("running") && run.path("attempt").asInt() == p.attempt();
      if (!owned && p.isAlive()) {
        strays.add(p + ": its run is " + run);
      }
    }
    assertEquals(List.of(), strays, "processes whose run is not running that attempt");
    mark(scanner.scans() + " scans saw " + scanner.jobProcessesSeen() + " job processes, never two of one run");
  }

  /** The run as the API shows it, rebuilt from its journal with the one fold. */
  static JsonNode replay(JsonNode events, long version) throws IOException {
    RunState state = RunState.EMPTY;
    long seq = 0;
    for (JsonNode e : events) {
      ObjectNode event = ((ObjectNode) e.get("data")).deepCopy();
      event.put("type", e.get("type").asText());
      state = state.apply(ReinsJson.mapper().treeToValue(event, RunEvent.class));
      seq = e.get("seq").asLong();
    }
    assertEquals(version, seq, "the run's version is its last event");
    // through text, as the API writes it (a tree built from the record holds longs where parsing gives ints)
    return ReinsJson.mapper().readTree(ReinsJson.mapper().writeValueAsString(RunView.of(state, seq)));
  }

  static boolean terminal(JsonNode run) {
    return Set.of("succeeded", "failed", "cancelled", "timed_out").contains(run.get("state").asText());
  }

  static Map<String, JsonNode> members(ApiClient api) throws IOException, InterruptedException {
    HttpResponse<String> r = api.get("/v1/cluster");
    assertEquals(200, r.statusCode(), r.body());
    Map<String, JsonNode> out = new TreeMap<>();
    ApiClient.json(r).get("members").forEach(m -> out.put(m.get("address").asText(), m));
    return out;
  }

  /**
   * A recent run that is running on {@code node} and will run for at least 35 s more (longer than
   * the failover takes, so that its process, if the kill left it alive, would overlap the next
   * attempt), or null.
   */
  private String longRunOn(ApiClient api, String node) throws IOException, InterruptedException {
    List<String> ids = new ArrayList<>(recent.subList(Math.max(0, recent.size() - 20), recent.size()));
    for (String id : ids) {
      HttpResponse<String> r = api.get("/v1/runs/" + id);
      if (r.statusCode() != 200) {
        continue;
      }
      JsonNode run = ApiClient.json(r);
      boolean running = run.get("state").asText().equals("running") && node.equals(run.path("worker").path("node").asText());
      double seconds = Double.parseDouble(run.path("executor").path("command").get(1).asText());
      // while running, updatedAt is when the attempt started
      double ranFor = Duration.between(java.time.Instant.parse(run.get("updatedAt").asText()), java.time.Instant.now()).toMillis() / 1000.0;
      if (running && seconds - ranFor >= 35) {
        return id;
      }
    }
    return null;
  }

  /** The recent runs that run on {@code node} now. */
  private List<String> runningOn(ApiClient api, String node) throws IOException, InterruptedException {
    List<String> out = new ArrayList<>();
    for (String id : new ArrayList<>(recent.subList(Math.max(0, recent.size() - 40), recent.size()))) {
      HttpResponse<String> r = api.get("/v1/runs/" + id);
      if (r.statusCode() == 200) {
        JsonNode run = ApiClient.json(r);
        if (run.get("state").asText().equals("running") && node.equals(run.path("worker").path("node").asText())) {
          out.add(id);
        }
      }
    }
    return out;
  }

  /**
   * Marks on the timeline how long after the kill every run that was running on the killed node
   * runs again elsewhere (or has ended): a figure for the failover, not an assertion.
   */
  private Thread measureFailover(ApiClient api, String killed, List<String> runs, long killedAt) {
    Thread t = new Thread(() -> {
      Set<String> left = new HashSet<>(runs);
      long deadline = killedAt + Duration.ofMinutes(2).toNanos();
      while (!left.isEmpty() && System.nanoTime() < deadline) {
        for (String id : new ArrayList<>(left)) {
          try {
            HttpResponse<String> r = api.get("/v1/runs/" + id);
            if (r.statusCode() == 200) {
              JsonNode run = ApiClient.json(r);
              boolean elsewhere = run.get("state").asText().equals("running") && !killed.equals(run.path("worker").path("node").asText());
              if (elsewhere || terminal(run)) {
                left.remove(id);
              }
            }
          } catch (IOException e) {
            // asked again below
          } catch (InterruptedException e) {
            return;
          }
        }
        try {
          Thread.sleep(100); // sampling for a figure, not waiting for a result
        } catch (InterruptedException e) {
          return;
        }
      }
      mark(String.format(java.util.Locale.ROOT, "failover: %d run(s) of node %d %s %.1f s after the SIGKILL", runs.size(), KILLED,
          left.isEmpty() ? "run again elsewhere (or ended)" : "not all back (" + left + ")", (System.nanoTime() - killedAt) / 1e9));
    }, "failover-figure");
    t.start();
    return t;
  }

  private static int busySlots(ApiClient api, String node) throws IOException, InterruptedException {
    JsonNode m = members(api).get(node);
    return m == null ? 0 : m.path("slots").path("busy").asInt();
  }

  private String address(int node) {
    return "pekko://reins@127.0.0.1:" + (baseRemote + node - 1);
  }

  private ApiClient client(int node, String token) {
    return new ApiClient(baseHttp + node - 1, token);
  }

  private Set<String> apiUrls() {
    Set<String> urls = new HashSet<>();
    for (int i = 1; i <= NODES; i++) {
      urls.add("http://127.0.0.1:" + (baseHttp + i - 1));
    }
    return urls;
  }

  /** Runs {@code local-cluster.sh}; its output goes to a file (a node must not hold a pipe of ours). */
  private void script(Duration timeout, String... args) throws IOException, InterruptedException {
    runScript(scriptEnv, this::mark, timeout, args);
  }

  /**
   * Runs {@code local-cluster.sh} with {@code env} added, hands its output to {@code mark} and fails
   * the test unless it exits 0 within {@code timeout}. Its output goes to a file (a node it starts
   * must not hold a pipe of ours).
   */
  static void runScript(Map<String, String> env, Consumer<String> mark, Duration timeout, String... args)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString()));
    command.addAll(List.of(args));
    File out = File.createTempFile("local-cluster-", ".out");
    try {
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out);
      pb.environment().remove("REINS_ADMIN_TOKEN");
      pb.environment().putAll(env);
      Process p = pb.start();
      boolean done = p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS);
      String output = Files.readString(out.toPath(), StandardCharsets.UTF_8);
      mark.accept("local-cluster.sh " + args[0] + ":\n" + output.strip());
      if (!done) {
        p.destroyForcibly();
      }
      assertTrue(done && p.exitValue() == 0, "local-cluster.sh " + String.join(" ", args) + " failed:\n" + output);
    } finally {
      Files.deleteIfExists(out.toPath());
    }
  }

  private void mark(String what) {
    timeline.add(String.format(java.util.Locale.ROOT, "%7.1f s  %s", (System.nanoTime() - t0) / 1e9, what));
  }

  /** The first of {@code count} consecutive free ports. */
  static int freeRange(int count) throws IOException {
    for (int attempt = 0; attempt < 100; attempt++) {
      // below the kernel's ephemeral range (32768-60999 here), which outgoing connections take ports from
      int base = ThreadLocalRandom.current().nextInt(20000, 32000);
      boolean free = true;
      for (int port = base; port < base + count && free; port++) {
        try (ServerSocket s = new ServerSocket(port)) {
          s.setReuseAddress(true);
        } catch (IOException e) {
          free = false;
        }
      }
      if (free) {
        return base;
      }
    }
    throw new IOException("no " + count + " consecutive free ports");
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Collections.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** A job process as /proc shows it. */
  record JobProcess(long pid, long pgid, long startTime, String runId, int attempt) {
    /** Still the same process (a pid can be reused), and not a zombie. */
    boolean isAlive() {
      ProcStat s = ProcStat.read(pid);
      return s != null && s.startTime() == startTime && s.state() != 'Z';
    }
  }

  /** The fields of /proc/PID/stat that the scan needs. */
  record ProcStat(char state, long pgid, long startTime) {
    static ProcStat read(long pid) {
      try {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
        // after the command name's closing parenthesis: state ppid pgrp ... starttime (the 20th)
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return new ProcStat(f[0].charAt(0), Long.parseLong(f[2]), Long.parseLong(f[19]));
      } catch (IOException | RuntimeException e) {
        return null; // gone
      }
    }
  }

  /**
   * Every ~50 ms, every process of the machine: those whose environment names one of this
   * cluster's API URLs are its jobs' processes. Two process groups of one run alive at the same
   * moment (checked again after the scan, since a scan is not instantaneous) are an overlap.
   */
  static final class ProcessScanner implements Runnable {
    private final Set<String> apiUrls;
    private final AtomicBoolean running = new AtomicBoolean(true);
    /** Each pair once, however many scans see it. */
    private final Set<List<JobProcess>> overlaps = ConcurrentHashMap.newKeySet();
    private final Set<String> seen = ConcurrentHashMap.newKeySet();
    /** pid -> start time, first seen: processes that are not jobs of ours (their environment cannot change after exec). */
    private final Map<Long, long[]> foreign = new HashMap<>();
    private final AtomicInteger scans = new AtomicInteger();

    ProcessScanner(Set<String> apiUrls) {
      this.apiUrls = apiUrls;
    }

    @Override
    public void run() {
      while (running.get()) {
        Map<String, List<JobProcess>> byRun = new HashMap<>();
        for (JobProcess p : snapshot()) {
          byRun.computeIfAbsent(p.runId(), k -> new ArrayList<>()).add(p);
          seen.add(p.pid() + "/" + p.startTime());
        }
        for (List<JobProcess> ps : byRun.values()) {
          if (ps.stream().map(JobProcess::pgid).distinct().count() > 1 && ps.stream().allMatch(JobProcess::isAlive)) {
            overlaps.add(ps.stream().sorted(java.util.Comparator.comparingLong(JobProcess::pid)).toList());
          }
        }
        scans.incrementAndGet();
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    List<JobProcess> snapshot() {
      List<JobProcess> out = new ArrayList<>();
      File[] entries = new File("/proc").listFiles();
      if (entries == null) {
        return out;
      }
      long now = System.nanoTime();
      Set<Long> pids = new HashSet<>();
      for (File entry : entries) {
        String name = entry.getName();
        if (name.isEmpty() || !Character.isDigit(name.charAt(0))) {
          continue;
        }
        long pid = Long.parseLong(name);
        pids.add(pid);
        ProcStat stat = ProcStat.read(pid);
        if (stat == null || stat.state() == 'Z') {
          continue;
        }
        long[] known;
        synchronized (foreign) {
          known = foreign.get(pid);
        }
        // a process forked by a JVM has the JVM's environment until it execs: look again during its first second
        if (known != null && known[0] == stat.startTime() && now - known[1] > 1_000_000_000L) {
          continue;
        }
        JobProcess job = job(pid, stat);
        if (job != null) {
          out.add(job);
        } else if (known == null || known[0] != stat.startTime()) {
          synchronized (foreign) {
            foreign.put(pid, new long[] {stat.startTime(), now});
          }
        }
      }
      synchronized (foreign) {
        foreign.keySet().retainAll(pids);
      }
      return out;
    }

    private JobProcess job(long pid, ProcStat stat) {
      byte[] environ;
      try {
        environ = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "environ"));
      } catch (IOException | RuntimeException e) {
        return null;
      }
      String runId = null;
      String attempt = null;
      String apiUrl = null;
      for (String var : new String(environ, StandardCharsets.UTF_8).split("\0")) {
        if (var.startsWith("REINS_RUN_ID=")) {
          runId = var.substring("REINS_RUN_ID=".length());
        } else if (var.startsWith("REINS_ATTEMPT=")) {
          attempt = var.substring("REINS_ATTEMPT=".length());
        } else if (var.startsWith("REINS_API_URL=")) {
          apiUrl = var.substring("REINS_API_URL=".length());
        }
      }
      if (runId == null || attempt == null || !apiUrls.contains(apiUrl)) {
        return null;
      }
      return new JobProcess(pid, stat.pgid(), stat.startTime(), runId, Integer.parseInt(attempt));
    }

    void stop() {
      running.set(false);
    }

    /** Whatever a failed test leaves behind must not run on. */
    void killLeftovers() {
      for (JobProcess p : snapshot()) {
        ProcessHandle.of(p.pid()).ifPresent(ProcessHandle::destroyForcibly);
      }
    }

    /** Processes of one run seen alive at the same moment. */
    List<String> overlaps() {
      return overlaps.stream().map(ps -> "alive at once: " + ps).toList();
    }

    int jobProcessesSeen() {
      return seen.size();
    }

    int scans() {
      return scans.get();
    }
  }
}
