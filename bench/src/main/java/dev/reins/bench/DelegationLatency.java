package dev.reins.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;

/**
 * Delegations to an A2A agent (the JS SDK test peer, {@code http-api/src/test/a2a-peer}) through a
 * running server, over HTTP:
 *
 * <ol>
 *   <li><b>created/s</b>: {@code --clients} closed-loop clients create {@code --creates}
 *       delegations (each a short task on the peer); the rate of 202 answers, and their latency.
 *   <li><b>peer-complete to completed</b>: {@code --iterations} delegations, one at a time; the
 *       peer records (wall clock, µs) when its task ends; measured until the delegation's
 *       journaled {@code updatedAt} (the server saw it) and until a client's long poll answers it.
 *   <li><b>parent cancel to CancelTask</b>: {@code --iterations} times, a parent run with a
 *       working delegation is cancelled; measured from just before the cancel request until the
 *       peer's {@code cancelTask} runs (wall clock, µs, recorded by the peer).
 * </ol>
 * Peer and server share this machine and its clock.
 */
public final class DelegationLatency {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private final String url;
  private final String token;
  private final String peer;

  private DelegationLatency(String url, String token, String peer) {
    this.url = url;
    this.token = token;
    this.peer = peer;
  }

  public static void main(String[] argv) throws Exception {
    BenchSupport.Args args = new BenchSupport.Args("DelegationLatency", argv, new String[][] {
      {"url", "http://127.0.0.1:18080", "the Reins server"},
      {"token", System.getenv().getOrDefault("REINS_TOKEN", ""), "an API token (default: $REINS_TOKEN)"},
      {"peer", "http://127.0.0.1:18099", "the A2A test peer (node peer.mjs --port N)"},
      {"clients", "16", "concurrent clients creating delegations"},
      {"creates", "1000", "delegations created in the throughput part"},
      {"iterations", "200", "sequential iterations of each latency part"},
      {"warmup", "10", "warm-up iterations of each latency part"},
      {"work", "200", "how long (ms) the peer works on a task in the completion part"},
    });
    DelegationLatency b = new DelegationLatency(args.str("url"), args.str("token"), args.str("peer"));
    ObjectNode result = BenchSupport.JSON.createObjectNode();
    result.put("benchmark", "DelegationLatency");
    result.set("options", args.toJson());
    b.createRate(args.integer("clients"), args.integer("creates"), result);
    b.completion(args.integer("warmup"), args.integer("iterations"), args.integer("work"), result);
    b.cancel(args.integer("warmup"), args.integer("iterations"), result);
    System.out.println(BenchSupport.JSON.writeValueAsString(result));
  }

  // ---- created/s --------------------------------------------------------------------------------

  private void createRate(int clients, int creates, ObjectNode result) throws Exception {
    // a run may have 100 delegations: enough parents for all, created beforehand (pending or running)
    int perParent = 50;
    List<String> parents = new ArrayList<>();
    for (int i = 0; i < (creates + perParent - 1) / perParent; i++) {
      parents.add(parent());
    }
    Histogram latency = BenchSupport.micros();
    AtomicInteger next = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    long start = System.nanoTime();
    List<Future<?>> all = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      all.add(pool.submit(() -> {
        for (int i; (i = next.getAndIncrement()) < creates; ) {
          String parent = parents.get(i % parents.size()); // spread: one run journals its requests one at a time
          long t0 = System.nanoTime();
          try {
            HttpResponse<String> r = post("/v1/runs/" + parent + "/delegations", body(20, "{\"workMs\":20}", 600));
            if (r.statusCode() == 202) {
              synchronized (latency) {
                BenchSupport.recordMicros(latency, System.nanoTime() - t0);
              }
            } else {
              errors.incrementAndGet();
              System.err.println("create answered " + r.statusCode() + ": " + r.body());
            }
          } catch (Exception e) {
            errors.incrementAndGet();
            System.err.println("create failed: " + e);
          }
        }
        return null;
      }));
    }
    for (Future<?> f : all) {
      f.get();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    pool.shutdown();
    double rate = latency.getTotalCount() / seconds;
    System.out.printf(Locale.ROOT, "created: %d delegations in %.2f s by %d clients: %.0f/s, errors %d%n",
        latency.getTotalCount(), seconds, clients, rate, errors.get());
    System.out.println(BenchSupport.humanSummary("create answered", latency));
    ObjectNode o = result.putObject("create");
    o.put("per_second", Math.round(rate));
    o.put("errors", errors.get());
    o.put("seconds", seconds);
    o.set("latency", BenchSupport.summary(latency));
    // let them finish before the latency parts, and cancel the parents
    for (String p : parents) {
      post("/v1/runs/" + p + "/cancel", "");
    }
  }

  // ---- peer complete -> completed ---------------------------------------------------------------

  private void completion(int warmup, int iterations, int workMs, ObjectNode result) throws Exception {
    Histogram journaled = BenchSupport.micros();
    Histogram seen = BenchSupport.micros();
    String parent = parent();
    int onParent = 0;
    int failures = 0;
    for (int i = 0; i < warmup + iterations; i++) {
      if (++onParent > 90) {
        post("/v1/runs/" + parent + "/cancel", "");
        parent = parent();
        onParent = 1;
      }
      HttpResponse<String> r = post("/v1/runs/" + parent + "/delegations", body(i, "{\"workMs\":" + workMs + "}", 120));
      if (r.statusCode() != 202) {
        failures++;
        System.err.println("create answered " + r.statusCode() + ": " + r.body());
        continue;
      }
      String did = json(r).path("id").asText();
      JsonNode d = json(get("/v1/runs/" + parent + "/delegations/" + did + "?wait=30s"));
      long seenMicros = micros(Instant.now());
      if (!"completed".equals(d.path("state").asText())) {
        failures++;
        System.err.println("delegation ended " + d);
        continue;
      }
      JsonNode task = peerTask(d.path("remote").path("id").asText()).path("task");
      long ended = task.path("endedAtMicros").asLong();
      long updated = micros(Instant.parse(d.path("updatedAt").asText()));
      if (i >= warmup) {
        BenchSupport.recordMicros(journaled, Math.max(0, updated - ended) * 1000);
        BenchSupport.recordMicros(seen, Math.max(0, seenMicros - ended) * 1000);
      }
    }
    post("/v1/runs/" + parent + "/cancel", "");
    System.out.println(BenchSupport.humanSummary("complete->journaled", journaled));
    System.out.println(BenchSupport.humanSummary("complete->long poll", seen));
    ObjectNode o = result.putObject("completion");
    o.put("failures", failures);
    o.put("work_ms", workMs);
    o.set("peer_complete_to_journaled", BenchSupport.summary(journaled));
    o.set("peer_complete_to_client", BenchSupport.summary(seen));
  }

  // ---- parent cancel -> CancelTask --------------------------------------------------------------

  private void cancel(int warmup, int iterations, ObjectNode result) throws Exception {
    Histogram toPeer = BenchSupport.micros();
    Histogram toCancelled = BenchSupport.micros();
    int failures = 0;
    for (int i = 0; i < warmup + iterations; i++) {
      String parent = parent();
      HttpResponse<String> r = post("/v1/runs/" + parent + "/delegations", body(i, "{\"workMs\":600000}", 300));
      if (r.statusCode() != 202) {
        failures++;
        System.err.println("create answered " + r.statusCode() + ": " + r.body());
        continue;
      }
      String did = json(r).path("id").asText();
      String taskId = null;
      for (long until = System.nanoTime() + 30_000_000_000L; taskId == null && System.nanoTime() < until; ) {
        JsonNode d = json(get("/v1/runs/" + parent + "/delegations/" + did));
        if (d.path("remote").hasNonNull("id")) {
          taskId = d.path("remote").path("id").asText();
        } else {
          Thread.sleep(2);
        }
      }
      if (taskId == null) {
        failures++;
        continue;
      }
      long t0 = micros(Instant.now());
      post("/v1/runs/" + parent + "/cancel", "");
      JsonNode cancels = null;
      for (long until = System.nanoTime() + 30_000_000_000L; System.nanoTime() < until; Thread.sleep(2)) {
        cancels = peerTask(taskId).path("cancels");
        if (cancels.size() > 0) {
          break;
        }
      }
      JsonNode d = json(get("/v1/runs/" + parent + "/delegations/" + did + "?wait=30s"));
      if (cancels == null || cancels.isEmpty() || !"cancelled".equals(d.path("state").asText())) {
        failures++;
        System.err.println("no CancelTask seen or delegation not cancelled: " + d);
        continue;
      }
      if (i >= warmup) {
        BenchSupport.recordMicros(toPeer, Math.max(0, cancels.get(0).path("atMicros").asLong() - t0) * 1000);
        BenchSupport.recordMicros(toCancelled, Math.max(0, micros(Instant.parse(d.path("updatedAt").asText())) - t0) * 1000);
      }
    }
    System.out.println(BenchSupport.humanSummary("cancel->CancelTask", toPeer));
    System.out.println(BenchSupport.humanSummary("cancel->cancelled", toCancelled));
    ObjectNode o = result.putObject("cancel");
    o.put("failures", failures);
    o.set("parent_cancel_to_peer_cancel_task", BenchSupport.summary(toPeer));
    o.set("parent_cancel_to_delegation_cancelled", BenchSupport.summary(toCancelled));
  }

  // ---- HTTP -------------------------------------------------------------------------------------

  private String parent() throws Exception {
    HttpResponse<String> r = post("/v1/runs", "{\"executor\":{\"type\":\"process\",\"command\":[\"sleep\",\"3600\"]},\"timeoutSeconds\":86400}");
    if (r.statusCode() != 202) {
      throw new IllegalStateException("submit answered " + r.statusCode() + ": " + r.body());
    }
    return json(r).path("id").asText();
  }

  private String body(int i, String data, int timeoutSeconds) {
    return "{\"target\":{\"type\":\"a2a\",\"url\":\"" + peer + "/\",\"message\":{\"text\":\"bench " + i + "\",\"data\":" + data + "}},"
        + "\"timeoutSeconds\":" + timeoutSeconds + "}";
  }

  private JsonNode peerTask(String taskId) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(peer + "/_peer/task/" + taskId)).build(),
        HttpResponse.BodyHandlers.ofString());
    return BenchSupport.JSON.readTree(r.body());
  }

  private HttpResponse<String> post(String path, String body) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create(url + path)).header("Authorization", "Bearer " + token)
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create(url + path)).header("Authorization", "Bearer " + token).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> r) throws Exception {
    return BenchSupport.JSON.readTree(r.body());
  }

  private static long micros(Instant t) {
    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1000;
  }
}
