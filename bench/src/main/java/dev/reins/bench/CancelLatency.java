package dev.reins.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;

/**
 * Cancel latency, one run at a time. Each iteration submits a run whose process is a small bash
 * script that traps TERM, waits until the run is {@code running} with a {@code worker.pid} and the
 * script has installed its trap, then takes t0 and sends {@code POST /v1/runs/{id}/cancel}. It
 * measures:
 *
 * <ul>
 *   <li><b>cancel-to-TERM</b>: t0 to the moment the process ran its TERM trap. The trap writes
 *       bash's {@code $EPOCHREALTIME} (the wall clock, µs, no fork) to a per-run marker file whose
 *       path the run gets in {@code REINS_MARK}; t0 is read from the same clock.
 *   <li><b>cancel-to-gone</b>: t0 to the moment the process has exited, polling {@code
 *       /proc/<pid>/stat} every {@code --poll-micros} (gone, a zombie, or a different start time
 *       all count as exited).
 *   <li><b>cancel-to-terminal</b>: t0 to the moment the API shows a terminal state (the cancel
 *       answer itself when it is a 200 with a terminal state, otherwise by polling GET).
 *   <li><b>cancel-response</b>: t0 to the answer of the cancel request.
 * </ul>
 *
 * <p>Across nodes ({@code --urls} with several nodes of one cluster and {@code --remote-ports}):
 * iteration {@code i} submits through node {@code i mod n}, reads where the run landed from its
 * {@code worker.node}, and cancels through a node that is neither the submitting node nor the
 * worker's node when there is one (otherwise through any node but the worker's). Cancel-to-TERM
 * is also reported for the iterations where submit, worker and cancel were three different nodes.
 *
 * <p>Why this is not {@code wrk}: the figure is the time from the cancel request to the moment the
 * run's process receives TERM, which only the process itself can tell (its trap writes the time to
 * a marker file); a load generator sees only HTTP answers.
 *
 * <p>The process must run on this machine (the benchmark reads {@code /proc} and the marker files).
 * The bearer token comes from {@code REINS_BENCH_TOKEN}.
 * Prints human-readable lines and, last, one JSON line starting with {@code {"benchmark":}.
 */
public final class CancelLatency {

  private static final String[][] OPTIONS = {
    {"url", "http://127.0.0.1:8080", "base URL of the server"},
    {"urls", "", "comma-separated base URLs of several nodes of one cluster (cross-node mode; overrides --url)"},
    {"remote-ports", "", "with --urls: each node's remoting port, in the same order (tells which node runs a run)"},
    {"iterations", "200", "measured cancels"},
    {"warmup-iterations", "5", "cancels before the measured ones (not recorded)"},
    {"cancel-grace-seconds", "10", "cancelGraceSeconds of the runs (TERM, then KILL after this)"},
    {"cancel-wait", "5s", "value of ?wait= on the cancel request (empty: no parameter)"},
    {"poll-micros", "200", "interval of the /proc poll after the cancel, in microseconds"},
    {"start-timeout", "60s", "how long a run may take to be running before the iteration fails"},
    {"mark-dir", "", "directory for the TERM marker files (empty: a fresh temporary directory)"},
    {"bash", "/bin/bash", "bash used for the TERM-trapping script (needs $EPOCHREALTIME, bash >= 5)"},
    {"tag", "", "value of REINS_BENCH_TAG in the runs' environment (empty: none)"},
    {"max-failures", "10", "give up after this many failed iterations"},
  };

  /** Installs the trap, starts the sleep, then says it is ready; on TERM writes the time and exits. */
  static final String SCRIPT =
      "trap 't=$EPOCHREALTIME; [ -n \"$t\" ] || t=$(date +%s.%N); echo \"$t\" > \"$REINS_MARK\"; kill $! 2>/dev/null; exit 0' TERM\n"
          + "sleep 600 &\n"
          + ": > \"$REINS_MARK.ready\"\n"
          + "wait\n";

  private static final Set<String> TERMINAL = Set.of("cancelled", "succeeded", "failed", "timed_out");

  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
  private final String base;
  private final List<String> urls;
  private final List<String> remotePorts;
  private final BenchSupport.Args args;
  private final Path markDir;
  private final long pollNanos;
  private final Duration startTimeout;

  final Histogram toTerm = BenchSupport.micros();
  final Histogram toGone = BenchSupport.micros();
  final Histogram toTerminal = BenchSupport.micros();
  final Histogram cancelResponse = BenchSupport.micros();
  final Histogram submitToRunning = BenchSupport.micros();
  /** cancel-to-TERM of the iterations whose submit, worker and cancel nodes were all different */
  final Histogram toTermThreeNodes = BenchSupport.micros();
  /** (submit node -> worker node -> cancel node) of the measured iterations */
  final Map<String, Integer> routes = new TreeMap<>();
  final Map<String, Integer> finalStates = new TreeMap<>();
  final Map<String, Integer> cancelStatuses = new TreeMap<>();
  final Map<String, Integer> failures = new TreeMap<>();
  int termMarkerMissing;

  private CancelLatency(BenchSupport.Args args, Path markDir) {
    this.args = args;
    this.urls = args.str("urls").isBlank()
        ? List.of(BenchSupport.stripSlash(args.str("url")))
        : Stream.of(args.str("urls").split(",")).map(String::trim).map(BenchSupport::stripSlash).toList();
    this.base = String.join(",", urls);
    this.remotePorts = args.str("remote-ports").isBlank()
        ? List.of()
        : Stream.of(args.str("remote-ports").split(",")).map(String::trim).toList();
    if (urls.size() > 1 && remotePorts.size() != urls.size()) {
      System.err.println("error: --urls with several nodes needs --remote-ports with one port per URL");
      System.exit(2);
    }
    this.markDir = markDir;
    this.pollNanos = args.lng("poll-micros") * 1000;
    this.startTimeout = args.duration("start-timeout");
  }

  public static void main(String[] argv) throws Exception {
    BenchSupport.Args args = new BenchSupport.Args("CancelLatency", argv, OPTIONS);
    boolean tempDir = args.str("mark-dir").isEmpty();
    Path markDir = tempDir ? Files.createTempDirectory("reins-bench-cancel-") : Path.of(args.str("mark-dir"));
    Files.createDirectories(markDir);
    if (!Files.isExecutable(Path.of(args.str("bash")))) {
      System.err.println("error: " + args.str("bash") + " is not executable");
      System.exit(2);
    }
    CancelLatency bench = new CancelLatency(args, markDir);
    int code;
    try {
      code = bench.run();
    } finally {
      if (tempDir) {
        try (Stream<Path> s = Files.walk(markDir)) {
          s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
    System.exit(code);
  }

  private int run() throws Exception {
    for (String u : urls) {
      BenchSupport.checkReady(http, u);
    }
    int iterations = args.integer("iterations");
    int warmups = args.integer("warmup-iterations");
    int maxFailures = args.integer("max-failures");
    Instant wallStart = Instant.now();
    System.out.printf(
        Locale.ROOT,
        "cancel-latency: %s, %d measured cancels after %d warm-up cancels, one at a time; /proc poll every %d us%n",
        base, iterations, warmups, pollNanos / 1000);
    System.out.println("  command: [\"" + args.str("bash") + "\",\"-c\",<TERM-trapping script>], cancelGraceSeconds=" + args.lng("cancel-grace-seconds"));

    int failed = 0;
    int measured = 0;
    for (int i = 0; measured < iterations; i++) {
      boolean record = i >= warmups;
      String problem;
      try {
        problem = iteration(i, record);
      } catch (IOException e) {
        problem = "I/O " + e;
      }
      if (problem != null) {
        failed++;
        failures.merge(problem.length() > 80 ? problem.substring(0, 80) : problem, 1, Integer::sum);
        System.err.println("  iteration " + i + " failed: " + problem);
        if (failed >= maxFailures) {
          System.err.println("  giving up after " + failed + " failed iterations");
          break;
        }
        continue;
      }
      if (record) {
        measured++;
        if (measured % 25 == 0) {
          System.err.printf(
              Locale.ROOT,
              "  [%d/%d] cancel-to-TERM p50 %.2f ms, cancel-to-gone p50 %.2f ms%n",
              measured, iterations,
              BenchSupport.ms(toTerm.getValueAtPercentile(50)),
              BenchSupport.ms(toGone.getValueAtPercentile(50)));
        }
      }
    }

    System.out.println("  " + BenchSupport.humanSummary("cancel-to-TERM", toTerm));
    System.out.println("  " + BenchSupport.humanSummary("cancel-to-gone", toGone));
    System.out.println("  " + BenchSupport.humanSummary("cancel-to-terminal", toTerminal));
    System.out.println("  " + BenchSupport.humanSummary("cancel-response", cancelResponse));
    System.out.println("  " + BenchSupport.humanSummary("submit-to-running", submitToRunning));
    if (urls.size() > 1) {
      System.out.println("  " + BenchSupport.humanSummary("cancel-to-TERM 3 nodes", toTermThreeNodes));
      System.out.println("  routes (submit>worker>cancel node): " + routes);
    }
    System.out.println("  cancel answers: " + cancelStatuses + "; final states: " + finalStates
        + "; TERM marker missing: " + termMarkerMissing + "; failed iterations: " + failed);
    failures.forEach((k, v) -> System.out.printf(Locale.ROOT, "    failure %-60s %d%n", k, v));

    ObjectNode out = BenchSupport.JSON.createObjectNode();
    out.put("benchmark", "cancel_latency");
    out.put("started_at", wallStart.toString());
    out.put("url", base);
    out.put("iterations", measured);
    out.put("warmup_iterations", warmups);
    out.put("failed_iterations", failed);
    out.put("term_marker_missing", termMarkerMissing);
    out.set("cancel_to_term", BenchSupport.summary(toTerm));
    out.set("cancel_to_gone", BenchSupport.summary(toGone));
    out.set("cancel_to_terminal", BenchSupport.summary(toTerminal));
    out.set("cancel_response", BenchSupport.summary(cancelResponse));
    out.set("submit_to_running", BenchSupport.summary(submitToRunning));
    out.put("nodes", urls.size());
    if (urls.size() > 1) {
      out.set("cancel_to_term_three_nodes", BenchSupport.summary(toTermThreeNodes));
      ObjectNode r = out.putObject("routes");
      routes.forEach(r::put);
    }
    ObjectNode states = out.putObject("final_states");
    finalStates.forEach(states::put);
    ObjectNode statuses = out.putObject("cancel_statuses");
    cancelStatuses.forEach(statuses::put);
    ObjectNode fails = out.putObject("failures");
    failures.forEach(fails::put);
    out.set("options", args.toJson());
    System.out.println(BenchSupport.JSON.writeValueAsString(out));
    return measured == iterations ? 0 : 1;
  }

  /** One submit/cancel cycle; returns null on success or what went wrong. */
  private String iteration(int i, boolean record) throws IOException, InterruptedException {
    Path mark = markDir.resolve("run-" + i);
    Path ready = markDir.resolve("run-" + i + ".ready");
    Files.deleteIfExists(mark);
    Files.deleteIfExists(ready);
    Map<String, String> env = new TreeMap<>();
    env.put("REINS_MARK", mark.toString());
    if (!args.str("tag").isEmpty()) {
      env.put("REINS_BENCH_TAG", args.str("tag"));
    }
    byte[] body =
        BenchSupport.submitBody(
            List.of(args.str("bash"), "-c", SCRIPT),
            env,
            3600,
            args.lng("cancel-grace-seconds"),
            Map.of("bench", "cancel-latency"));

    int submitNode = i % urls.size();
    String via = urls.get(submitNode);
    long submitAt = System.nanoTime();
    HttpResponse<String> submitted =
        http.send(
            BenchSupport.request(via + "/v1/runs")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (submitted.statusCode() / 100 != 2) {
      return "submit answered HTTP " + submitted.statusCode() + ": " + BenchSupport.abbreviate(submitted.body(), 200);
    }
    String id = BenchSupport.JSON.readTree(submitted.body()).path("id").asText("");
    if (id.isEmpty()) {
      return "submit answer has no id: " + BenchSupport.abbreviate(submitted.body(), 200);
    }

    // wait for running with a pid
    long pid = -1;
    String workerNode = "";
    long deadline = System.nanoTime() + startTimeout.toNanos();
    while (true) {
      JsonNode run = get(via, id);
      String state = run.path("state").asText("");
      long p = run.path("worker").path("pid").asLong(-1);
      if ("running".equals(state) && p > 0) {
        pid = p;
        workerNode = run.path("worker").path("node").asText("");
        break;
      }
      if (TERMINAL.contains(state)) {
        return "run " + id + " ended as " + state + " before it was running: " + BenchSupport.abbreviate(run.toString(), 300);
      }
      if (System.nanoTime() > deadline) {
        cancelQuietly(via, id);
        return "run " + id + " not running with a pid after " + startTimeout.toSeconds() + " s (state " + state + "; worker slots busy?)";
      }
      Thread.sleep(2);
    }
    long runningAt = System.nanoTime();
    // the script says when its trap is in place
    while (!Files.exists(ready)) {
      if (System.nanoTime() > deadline) {
        cancelQuietly(via, id);
        return "run " + id + " (pid " + pid + ") never signalled readiness in " + ready;
      }
      LockSupport.parkNanos(200_000);
    }
    long startTime = startTime(pid);
    if (startTime < 0) {
      return "run " + id + " is running but pid " + pid + " does not exist on this machine";
    }

    int workerIndex = nodeIndex(workerNode);
    int cancelNode = cancelNode(i, submitNode, workerIndex);
    HttpRequest cancel =
        BenchSupport.request(urls.get(cancelNode) + "/v1/runs/" + id + "/cancel" + waitParam())
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"reason\":\"bench cancel-latency\"}"))
            .build();
    long[] answeredAt = new long[1];
    Instant t0Wall = Instant.now();
    long t0 = System.nanoTime();
    CompletableFuture<HttpResponse<String>> answer =
        http.sendAsync(cancel, HttpResponse.BodyHandlers.ofString())
            .whenComplete((r, e) -> answeredAt[0] = System.nanoTime());

    long goneAt = -1;
    long goneDeadline = t0 + TimeUnit.SECONDS.toNanos(args.lng("cancel-grace-seconds") + 30);
    while (true) {
      if (!alive(pid, startTime)) {
        goneAt = System.nanoTime();
        break;
      }
      if (System.nanoTime() > goneDeadline) {
        break;
      }
      LockSupport.parkNanos(pollNanos);
    }

    HttpResponse<String> answered;
    try {
      answered = answer.get(40, TimeUnit.SECONDS);
    } catch (Exception e) {
      return "cancel of " + id + " failed: " + e;
    }
    if (record) {
      cancelStatuses.merge(Integer.toString(answered.statusCode()), 1, Integer::sum);
    }
    if (answered.statusCode() / 100 != 2) {
      return "cancel of " + id + " answered HTTP " + answered.statusCode() + ": " + BenchSupport.abbreviate(answered.body(), 200);
    }
    if (goneAt < 0) {
      return "pid " + pid + " of run " + id + " still alive " + (args.lng("cancel-grace-seconds") + 30) + " s after the cancel";
    }
    long terminalAt = -1;
    String finalState = null;
    JsonNode answerBody = parseOrNull(answered.body());
    if (answered.statusCode() == 200 && answerBody != null && TERMINAL.contains(answerBody.path("state").asText(""))) {
      terminalAt = answeredAt[0];
      finalState = answerBody.path("state").asText();
    } else {
      long d = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < d) {
        String state = get(via, id).path("state").asText("");
        if (TERMINAL.contains(state)) {
          terminalAt = System.nanoTime();
          finalState = state;
          break;
        }
        Thread.sleep(2);
      }
      if (terminalAt < 0) {
        return "run " + id + " not terminal 30 s after its process exited";
      }
    }

    long termMicros = -1;
    long markDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (System.nanoTime() < markDeadline) {
      String text = readOrNull(mark);
      if (text != null && !text.isBlank()) {
        termMicros = epochMicros(text.trim()) - (t0Wall.getEpochSecond() * 1_000_000L + t0Wall.getNano() / 1000);
        break;
      }
      Thread.sleep(1);
    }
    Files.deleteIfExists(mark);
    Files.deleteIfExists(ready);

    if (record) {
      finalStates.merge(finalState, 1, Integer::sum);
      if (urls.size() > 1) {
        routes.merge((submitNode + 1) + ">" + (workerIndex + 1) + ">" + (cancelNode + 1), 1, Integer::sum);
      }
      BenchSupport.recordMicros(toGone, goneAt - t0);
      BenchSupport.recordMicros(toTerminal, terminalAt - t0);
      BenchSupport.recordMicros(cancelResponse, answeredAt[0] - t0);
      BenchSupport.recordMicros(submitToRunning, runningAt - submitAt);
      if (termMicros >= 0) {
        BenchSupport.recordMicros(toTerm, termMicros * 1000);
        if (submitNode != workerIndex && cancelNode != workerIndex && cancelNode != submitNode) {
          BenchSupport.recordMicros(toTermThreeNodes, termMicros * 1000);
        }
      } else {
        termMarkerMissing++;
      }
    }
    return null;
  }

  private String waitParam() {
    String w = args.str("cancel-wait");
    return w.isEmpty() ? "" : "?wait=" + URLEncoder.encode(w, StandardCharsets.UTF_8);
  }

  /** Which of --urls runs on the node {@code pekko://reins@host:port}; -1 when unknown. */
  private int nodeIndex(String node) {
    int colon = node.lastIndexOf(':');
    return colon < 0 ? -1 : remotePorts.indexOf(node.substring(colon + 1));
  }

  /** A node other than the submitting one and the worker's, if there is one; else any but the worker's. */
  private int cancelNode(int i, int submitNode, int workerNode) {
    int n = urls.size();
    for (int k = 1; k < n; k++) {
      int c = (submitNode + k) % n;
      if (c != workerNode) {
        if (submitNode != workerNode || k == 1 + (i / n) % (n - 1)) {
          return c;
        }
      }
    }
    for (int k = 1; k < n; k++) {
      int c = (submitNode + k) % n;
      if (c != workerNode) {
        return c;
      }
    }
    return submitNode;
  }

  private JsonNode get(String via, String id) throws IOException, InterruptedException {
    HttpResponse<String> r =
        http.send(
            BenchSupport.request(via + "/v1/runs/" + id).GET().build(),
            HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException("GET /v1/runs/" + id + " answered HTTP " + r.statusCode() + ": " + BenchSupport.abbreviate(r.body(), 200));
    }
    return BenchSupport.JSON.readTree(r.body());
  }

  private void cancelQuietly(String via, String id) {
    try {
      http.send(
          BenchSupport.request(via + "/v1/runs/" + id + "/cancel")
              .header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.noBody())
              .build(),
          HttpResponse.BodyHandlers.discarding());
    } catch (IOException e) {
      // the driver script kills what is left
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static JsonNode parseOrNull(String s) {
    try {
      return BenchSupport.JSON.readTree(s);
    } catch (IOException e) {
      return null;
    }
  }

  private static String readOrNull(Path p) {
    try {
      return Files.readString(p, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      return null;
    }
  }

  /** {@code 1700000000.123456} (or with a comma, or with nanoseconds) to epoch microseconds. */
  static long epochMicros(String s) {
    String[] parts = s.replace(',', '.').split("\\.");
    long sec = Long.parseLong(parts[0]);
    long micros = 0;
    if (parts.length > 1) {
      String frac = (parts[1] + "000000").substring(0, 6);
      micros = Long.parseLong(frac);
    }
    return sec * 1_000_000L + micros;
  }

  /** Field 22 of /proc/pid/stat, or -1 if the process is gone or a zombie. */
  static long startTime(long pid) {
    byte[] stat;
    try {
      stat = Files.readAllBytes(Path.of("/proc/" + pid + "/stat"));
    } catch (NoSuchFileException e) {
      return -1;
    } catch (IOException e) {
      return -1;
    }
    String s = new String(stat, StandardCharsets.US_ASCII);
    int close = s.lastIndexOf(')');
    if (close < 0 || close + 2 >= s.length()) {
      return -1;
    }
    String[] f = s.substring(close + 2).trim().split(" ");
    // f[0] is field 3 (state), so field 22 (starttime) is f[19]
    char state = f[0].isEmpty() ? '?' : f[0].charAt(0);
    if (state == 'Z' || state == 'X' || f.length < 20) {
      return -1;
    }
    return Long.parseLong(f[19]);
  }

  static boolean alive(long pid, long startTime) {
    return startTime(pid) == startTime;
  }
}
