package dev.reins.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Turns the JSON result lines of {@link CancelLatency} and {@link SubmitThroughput} into the
 * markdown tables that {@code bench/run.sh} appends to docs/benchmarks.md.
 *
 * <p>Usage: {@code Report <journal> <result-file>...}; each file may hold other lines, only lines
 * starting with {@code {"benchmark":} are read.
 */
public final class Report {
  static final double SUBMIT_TARGET = 2000;
  static final double CANCEL_P99_TARGET_MS = 50;

  private Report() {}

  public static void main(String[] argv) throws IOException {
    if (argv.length < 1) {
      System.err.println("usage: Report <h2|postgres> <result-file>...");
      System.exit(2);
    }
    String journal = argv[0];
    List<JsonNode> cancels = new ArrayList<>();
    List<JsonNode> submits = new ArrayList<>();
    for (int i = 1; i < argv.length; i++) {
      Path p = Path.of(argv[i]);
      if (!Files.exists(p)) {
        continue;
      }
      for (String line : Files.readAllLines(p, StandardCharsets.UTF_8)) {
        if (!line.startsWith("{\"benchmark\":")) {
          continue;
        }
        JsonNode n = BenchSupport.JSON.readTree(line);
        if ("cancel_latency".equals(n.path("benchmark").asText())) {
          cancels.add(n);
        } else if ("submit_throughput".equals(n.path("benchmark").asText())) {
          submits.add(n);
        }
      }
    }
    StringBuilder md = new StringBuilder();
    for (JsonNode c : cancels) {
      md.append(String.format(
          Locale.ROOT,
          "#### Cancel latency: %d sequential cancels of running runs (after %d warm-up cancels)%n%n",
          c.path("iterations").asInt(), c.path("warmup_iterations").asInt()));
      md.append("| measure | p50 | p90 | p99 | max | n |\n|---|---:|---:|---:|---:|---:|\n");
      row(md, "cancel-to-TERM (trap ran)", c.path("cancel_to_term"));
      row(md, "cancel-to-gone (process exited)", c.path("cancel_to_gone"));
      row(md, "cancel-to-terminal (API state)", c.path("cancel_to_terminal"));
      row(md, "cancel request answered", c.path("cancel_response"));
      row(md, "submit-to-running (context)", c.path("submit_to_running"));
      JsonNode term = c.path("cancel_to_term");
      md.append('\n');
      if (term.has("p99_ms")) {
        double p99 = term.path("p99_ms").asDouble();
        md.append(String.format(
            Locale.ROOT,
            "Target p99 cancel-to-TERM < %.0f ms: **%s** (%.1f ms).",
            CANCEL_P99_TARGET_MS, p99 < CANCEL_P99_TARGET_MS ? "met" : "NOT met", p99));
      } else {
        md.append("Target p99 cancel-to-TERM < 50 ms: **no data**.");
      }
      md.append(String.format(
          Locale.ROOT,
          " Cancel answers %s, final states %s, failed iterations %d, TERM marker missing %d.%n%n",
          c.path("cancel_statuses"), c.path("final_states"), c.path("failed_iterations").asInt(),
          c.path("term_marker_missing").asInt()));
    }
    if (!submits.isEmpty()) {
      JsonNode first = submits.get(0);
      md.append(String.format(
          Locale.ROOT,
          "#### Submit throughput: %d closed-loop clients, %.0f s warm-up, %.0f s measured (in this order)%n%n",
          first.path("clients").asInt(), first.path("warmup_s").asDouble(), first.path("duration_s").asDouble()));
      md.append("| HTTP client | submits/s | p50 | p90 | p99 | max | errors | CPU cores busy: client / server / machine (of ")
          .append(first.path("cpu_cores").path("available").asInt())
          .append(") |\n|---|---:|---:|---:|---:|---:|---:|---|\n");
      for (JsonNode s : submits) {
        JsonNode l = s.path("latency");
        JsonNode cpu = s.path("cpu_cores");
        md.append(String.format(
            Locale.ROOT,
            "| %s | %.0f | %s | %s | %s | %s | %d | %.2f / %s / %.2f |%n",
            "socket".equals(s.path("client").asText()) ? "raw socket (lean)" : "java.net.http.HttpClient",
            s.path("submits_per_s").asDouble(),
            msCell(l, "p50_ms"), msCell(l, "p90_ms"), msCell(l, "p99_ms"), msCell(l, "max_ms"),
            s.path("errors").asLong(),
            cpu.path("client").asDouble(),
            cpu.has("server") ? String.format(Locale.ROOT, "%.2f", cpu.path("server").asDouble()) : "n/a",
            cpu.path("machine").asDouble()));
      }
      md.append('\n');
      double best = 0;
      for (JsonNode s : submits) {
        best = Math.max(best, s.path("submits_per_s").asDouble());
      }
      md.append(String.format(
          Locale.ROOT,
          "Target ≥ %,.0f submits/s with 32 clients%s: **%s** (best %.0f/s).",
          SUBMIT_TARGET,
          "postgres".equals(journal) ? "" : " (the target is for PostgreSQL; this is " + journal + ")",
          best >= SUBMIT_TARGET ? "met" : "NOT met",
          best));
      for (JsonNode s : submits) {
        if (s.path("errors_total").asLong() > 0) {
          md.append(String.format(
              Locale.ROOT, " Errors with %s: %s.", s.path("client").asText(), s.path("errors_by_kind")));
        }
      }
      md.append("\n\n");
    }
    System.out.print(md);
  }

  private static void row(StringBuilder md, String label, JsonNode h) {
    md.append(String.format(
        Locale.ROOT,
        "| %s | %s | %s | %s | %s | %d |%n",
        label, msCell(h, "p50_ms"), msCell(h, "p90_ms"), msCell(h, "p99_ms"), msCell(h, "max_ms"),
        h.path("count").asLong()));
  }

  private static String msCell(JsonNode h, String field) {
    return h.has(field) ? String.format(Locale.ROOT, "%.2f ms", h.path(field).asDouble()) : "–";
  }
}
