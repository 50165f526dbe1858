package dev.reins.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

/**
 * Failover time after a node's SIGKILL. Submits {@code --runs} runs ({@code sleep 3600}, a retry
 * policy of {@code --max-attempts} without backoff) round-robin through the nodes of a cluster
 * started by {@code deploy/local-cluster.sh}, waits until every one is running, SIGKILLs the node
 * that runs the most of them (its JVM, by the pid file in {@code --cluster-dir}), and then watches
 * those runs through a surviving node. Per run it reports, from the kill:
 *
 * <ul>
 *   <li><b>old process gone</b>: the killed attempt's process has exited (its node's JVM is dead,
 *       so this is the per-attempt watchdog);
 *   <li><b>attempt ended</b>: the API shows that the killed attempt is over (another attempt, or
 *       a state other than {@code running});
 *   <li><b>running again</b>: the API shows the run {@code running} in a later attempt, on another
 *       node, with a pid that exists.
 * </ul>
 *
 * <p>The figure is the largest "running again": the time until every run the node was running is
 * running again elsewhere. Why this is not {@code wrk}: it is not a request rate or latency but the
 * time until the cluster has repaired itself, seen by polling each run and {@code /proc}.
 *
 * <p>Prints readable lines and, last, one JSON line starting with {@code {"benchmark":}. The bearer
 * token comes from {@code REINS_BENCH_TOKEN}. The killed node stays dead: the caller restarts it.
 */
public final class FailoverTime {

  private static final String[][] OPTIONS = {
    {"urls", "", "comma-separated base URLs of the cluster's nodes (node 1 first)"},
    {"remote-ports", "", "each node's remoting port, in the same order"},
    {"cluster-dir", "", "the local-cluster.sh directory (node-<i>/pid holds node i's JVM pid)"},
    {"runs", "6", "runs to submit (they must all be running at once: fewer than the cluster's slots)"},
    {"max-attempts", "3", "retry.maxAttempts of the runs (> 1, or a lost worker fails the run)"},
    {"victim", "0", "node to kill, 1-based; 0: the node that runs the most of the runs (node 1 last in a tie)"},
    {"timeout", "120s", "give up when the runs are not running again after this long"},
    {"poll-ms", "20", "interval between two polls of a run"},
    {"tag", "", "value of REINS_BENCH_TAG in the runs' environment (empty: none)"},
  };

  private static final class Watched {
    final String id;
    final long oldPid;
    final long oldStart;
    final int oldAttempt;
    long goneMicros = -1;
    long endedMicros = -1;
    long againMicros = -1;
    String newNode = "";
    int newAttempt;
    CompletableFuture<HttpResponse<String>> inFlight;

    Watched(String id, long oldPid, long oldStart, int oldAttempt) {
      this.id = id;
      this.oldPid = oldPid;
      this.oldStart = oldStart;
      this.oldAttempt = oldAttempt;
    }
  }

  public static void main(String[] argv) throws Exception {
    BenchSupport.Args args = new BenchSupport.Args("FailoverTime", argv, OPTIONS);
    List<String> urls = split(args.str("urls")).stream().map(BenchSupport::stripSlash).toList();
    List<String> ports = split(args.str("remote-ports"));
    if (urls.size() < 2 || ports.size() != urls.size() || args.str("cluster-dir").isEmpty()) {
      System.err.println("error: needs --urls (two nodes or more), --remote-ports (one per URL) and --cluster-dir");
      System.exit(2);
    }
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(3)).build();
    for (String u : urls) {
      BenchSupport.checkReady(http, u);
    }
    int n = args.integer("runs");
    Map<String, String> env = args.str("tag").isEmpty() ? Map.of() : Map.of("REINS_BENCH_TAG", args.str("tag"));
    byte[] body = BenchSupport.submitBody(List.of("sleep", "3600"), env, 86400, 10, Map.of("bench", "failover"),
        args.integer("max-attempts"));
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      HttpResponse<String> r = http.send(BenchSupport.request(urls.get(i % urls.size()) + "/v1/runs")
          .header("Content-Type", "application/json")
          .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() / 100 != 2) {
        System.err.println("error: submit answered " + r.statusCode() + ": " + BenchSupport.abbreviate(r.body(), 300));
        System.exit(1);
      }
      ids.add(BenchSupport.JSON.readTree(r.body()).path("id").asText());
    }

    // every run running, and where
    Map<String, JsonNode> views = new LinkedHashMap<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (views.size() < n) {
      for (String id : ids) {
        if (views.containsKey(id)) {
          continue;
        }
        JsonNode v = get(http, urls.get(0), id);
        if (v != null && "running".equals(v.path("state").asText()) && v.path("worker").path("pid").asLong(-1) > 0) {
          views.put(id, v);
        }
      }
      if (System.nanoTime() > deadline) {
        System.err.println("error: only " + views.size() + " of " + n + " runs running after 60 s (too few free slots?)");
        System.exit(1);
      }
      Thread.sleep(50);
    }
    int[] perNode = new int[urls.size()];
    for (JsonNode v : views.values()) {
      int idx = ports.indexOf(portOf(v.path("worker").path("node").asText()));
      if (idx >= 0) {
        perNode[idx]++;
      }
    }
    int victim = args.integer("victim") - 1;
    if (victim < 0) {
      victim = urls.size() - 1;
      for (int i = urls.size() - 1; i >= 0; i--) {
        if (perNode[i] > perNode[victim]) {
          victim = i;
        }
      }
    }
    String victimPort = ports.get(victim);
    String survivor = urls.get(victim == 0 ? 1 : 0);
    List<Watched> watched = new ArrayList<>();
    for (JsonNode v : views.values()) {
      if (victimPort.equals(portOf(v.path("worker").path("node").asText()))) {
        long pid = v.path("worker").path("pid").asLong();
        watched.add(new Watched(v.path("id").asText(), pid, CancelLatency.startTime(pid), v.path("attempt").asInt()));
      }
    }
    System.out.printf(Locale.ROOT, "failover: %d runs, per node %s; killing node %d (remoting port %s), which runs %d of them; watching through %s%n",
        n, java.util.Arrays.toString(perNode), victim + 1, victimPort, watched.size(), survivor);
    if (watched.isEmpty()) {
      System.err.println("error: the node to kill runs none of the runs");
      System.exit(1);
    }
    long jvm = Long.parseLong(Files.readString(Path.of(args.str("cluster-dir"), "node-" + (victim + 1), "pid")).trim());
    String cmdline = new String(Files.readAllBytes(Path.of("/proc/" + jvm + "/cmdline")), StandardCharsets.UTF_8);
    if (!cmdline.contains("dev.reins.deploy.Main")) {
      System.err.println("error: pid " + jvm + " of node " + (victim + 1) + " is not a Reins server");
      System.exit(1);
    }

    Instant killedAt = Instant.now();
    long t0 = System.nanoTime();
    ProcessHandle.of(jvm).ifPresent(ProcessHandle::destroyForcibly); // SIGKILL on Linux
    long timeout = args.duration("timeout").toNanos();
    long poll = args.lng("poll-ms");
    int errors = 0;
    while (System.nanoTime() - t0 < timeout) {
      boolean all = true;
      for (Watched w : watched) {
        long now = System.nanoTime();
        if (w.goneMicros < 0 && !CancelLatency.alive(w.oldPid, w.oldStart)) {
          w.goneMicros = (now - t0) / 1000;
        }
        if (w.inFlight != null && w.inFlight.isDone()) {
          HttpResponse<String> r = w.inFlight.isCompletedExceptionally() ? null : w.inFlight.join();
          long at = (System.nanoTime() - t0) / 1000;
          w.inFlight = null;
          JsonNode v = r != null && r.statusCode() == 200 ? BenchSupport.JSON.readTree(r.body()) : null;
          if (v == null) {
            errors++;
          } else {
            int attempt = v.path("attempt").asInt();
            String state = v.path("state").asText();
            if (w.endedMicros < 0 && (attempt > w.oldAttempt || !"running".equals(state))) {
              w.endedMicros = at;
            }
            String node = v.path("worker").path("node").asText("");
            long pid = v.path("worker").path("pid").asLong(-1);
            if (w.againMicros < 0 && "running".equals(state) && attempt > w.oldAttempt && pid > 0
                && !victimPort.equals(portOf(node)) && CancelLatency.startTime(pid) >= 0) {
              w.againMicros = at;
              w.newNode = node;
              w.newAttempt = attempt;
            }
          }
        }
        if (w.againMicros < 0 && w.inFlight == null) {
          w.inFlight = http.sendAsync(BenchSupport.request(survivor + "/v1/runs/" + w.id).timeout(Duration.ofSeconds(5)).GET().build(),
              HttpResponse.BodyHandlers.ofString());
        }
        all &= w.againMicros >= 0 && w.goneMicros >= 0;
      }
      if (all) {
        break;
      }
      Thread.sleep(poll);
    }

    long maxAgain = -1;
    long maxGone = -1;
    long maxEnded = -1;
    int notAgain = 0;
    ArrayNode perRun = BenchSupport.JSON.createArrayNode();
    for (Watched w : watched) {
      if (w.againMicros < 0) {
        notAgain++;
      }
      maxAgain = Math.max(maxAgain, w.againMicros);
      maxGone = Math.max(maxGone, w.goneMicros);
      maxEnded = Math.max(maxEnded, w.endedMicros);
      System.out.printf(Locale.ROOT, "  run %s: old process gone %s, attempt %d ended %s, running again %s (attempt %d on %s)%n",
          w.id, secs(w.goneMicros), w.oldAttempt, secs(w.endedMicros), secs(w.againMicros), w.newAttempt, w.newNode);
      ObjectNode o = perRun.addObject();
      o.put("id", w.id);
      o.put("old_process_gone_s", w.goneMicros / 1e6);
      o.put("attempt_ended_s", w.endedMicros / 1e6);
      o.put("running_again_s", w.againMicros / 1e6);
      o.put("new_node", w.newNode);
      o.put("new_attempt", w.newAttempt);
    }
    System.out.printf(Locale.ROOT, "  all running again after %s; every old process gone after %s; not running again: %d; failed polls: %d%n",
        secs(notAgain > 0 ? -1 : maxAgain), secs(maxGone), notAgain, errors);
    ObjectNode out = BenchSupport.JSON.createObjectNode();
    out.put("benchmark", "failover");
    out.put("killed_at", killedAt.toString());
    out.put("killed_node", victim + 1);
    out.put("runs", n);
    out.put("runs_on_killed_node", watched.size());
    out.put("all_running_again_s", notAgain > 0 ? -1 : maxAgain / 1e6);
    out.put("all_attempts_ended_s", maxEnded / 1e6);
    out.put("all_old_processes_gone_s", maxGone / 1e6);
    out.put("not_running_again", notAgain);
    out.put("failed_polls", errors);
    out.set("per_run", perRun);
    out.set("options", args.toJson());
    System.out.println(BenchSupport.JSON.writeValueAsString(out));
    // leave the survivors' slots free for what comes next
    for (String id : ids) {
      try {
        http.send(BenchSupport.request(survivor + "/v1/runs/" + id + "/cancel?wait=10s").header("Content-Type", "application/json")
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"reason\":\"bench failover done\"}")).build(),
            HttpResponse.BodyHandlers.discarding());
      } catch (IOException e) {
        System.err.println("  could not cancel " + id + ": " + e);
      }
    }
    System.exit(notAgain == 0 ? 0 : 1);
  }

  private static String secs(long micros) {
    return micros < 0 ? "never" : String.format(Locale.ROOT, "%.2f s", micros / 1e6);
  }

  private static List<String> split(String s) {
    return s.isBlank() ? List.of() : Stream.of(s.split(",")).map(String::trim).toList();
  }

  /** {@code pekko://reins@127.0.0.1:25522} to {@code 25522}. */
  private static String portOf(String node) {
    int colon = node.lastIndexOf(':');
    return colon < 0 ? "" : node.substring(colon + 1);
  }

  private static JsonNode get(HttpClient http, String base, String id) throws InterruptedException {
    try {
      HttpResponse<String> r = http.send(BenchSupport.request(base + "/v1/runs/" + id).GET().build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? BenchSupport.JSON.readTree(r.body()) : null;
    } catch (IOException e) {
      return null;
    }
  }
}
