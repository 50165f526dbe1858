package dev.reins.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/** Argument parsing, histogram summaries and JSON output shared by the benchmarks. */
final class BenchSupport {
  static final ObjectMapper JSON = new ObjectMapper();

  /**
   * The bearer token every request carries: {@code REINS_BENCH_TOKEN} from the environment (never
   * an option, so that it shows neither in a process list nor in a result line).
   */
  static final String TOKEN = System.getenv().getOrDefault("REINS_BENCH_TOKEN", "");

  private BenchSupport() {}

  /** A request to {@code url} with the bearer token, if there is one. */
  static HttpRequest.Builder request(String url) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30));
    if (!TOKEN.isEmpty()) {
      b.header("Authorization", "Bearer " + TOKEN);
    }
    return b;
  }

  /** Exits unless {@code base}/v1/health/ready answers 200. */
  static void checkReady(HttpClient client, String base) {
    try {
      HttpResponse<String> r =
          client.send(
              HttpRequest.newBuilder(URI.create(base + "/v1/health/ready")).timeout(Duration.ofSeconds(10)).GET().build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        System.err.println("error: " + base + "/v1/health/ready answered " + r.statusCode() + ": " + abbreviate(r.body(), 300));
        System.exit(1);
      }
    } catch (IOException e) {
      System.err.println("error: cannot reach " + base + "/v1/health/ready: " + e);
      System.exit(1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      System.exit(1);
    }
  }

  /** {@code --name value} or {@code --name=value} options; unknown names are an error. */
  static final class Args {
    private final Map<String, String> values = new HashMap<>();
    private final Map<String, String> defaults = new LinkedHashMap<>();
    private final Map<String, String> help = new LinkedHashMap<>();
    private final String program;

    Args(String program, String[] argv, String[][] spec) {
      this.program = program;
      for (String[] s : spec) {
        defaults.put(s[0], s[1]);
        help.put(s[0], s[2]);
      }
      for (int i = 0; i < argv.length; i++) {
        String a = argv[i];
        if (a.equals("-h") || a.equals("--help")) {
          usage(null);
        }
        if (!a.startsWith("--")) {
          usage("unexpected argument: " + a);
        }
        String name;
        String value;
        int eq = a.indexOf('=');
        if (eq > 0) {
          name = a.substring(2, eq);
          value = a.substring(eq + 1);
        } else {
          name = a.substring(2);
          if (i + 1 >= argv.length) {
            usage("missing value for --" + name);
          }
          value = argv[++i];
        }
        if (!defaults.containsKey(name)) {
          usage("unknown option --" + name);
        }
        values.put(name, value);
      }
    }

    private void usage(String error) {
      StringBuilder sb = new StringBuilder();
      if (error != null) {
        sb.append("error: ").append(error).append("\n\n");
      }
      sb.append("usage: ").append(program).append(" [options]\n");
      for (Map.Entry<String, String> e : help.entrySet()) {
        sb.append(String.format(Locale.ROOT, "  --%-20s %s (default: %s)%n", e.getKey(), e.getValue(), defaults.get(e.getKey())));
      }
      System.err.print(sb);
      System.exit(error == null ? 0 : 2);
    }

    String str(String name) {
      return values.getOrDefault(name, defaults.get(name));
    }

    int integer(String name) {
      try {
        return Integer.parseInt(str(name));
      } catch (NumberFormatException e) {
        usage("--" + name + " must be an integer, got " + str(name));
        return 0;
      }
    }

    long lng(String name) {
      try {
        return Long.parseLong(str(name));
      } catch (NumberFormatException e) {
        usage("--" + name + " must be an integer, got " + str(name));
        return 0;
      }
    }

    Duration duration(String name) {
      try {
        return parseDuration(str(name));
      } catch (IllegalArgumentException e) {
        usage("--" + name + ": " + e.getMessage());
        return null;
      }
    }

    /** A JSON array of strings, e.g. {@code ["sleep","3600"]}. */
    List<String> stringList(String name) {
      try {
        JsonNode n = JSON.readTree(str(name));
        if (!n.isArray() || n.isEmpty()) {
          throw new IllegalArgumentException("not a non-empty JSON array");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
          if (!e.isTextual()) {
            throw new IllegalArgumentException("elements must be strings");
          }
          out.add(e.asText());
        }
        return out;
      } catch (IOException | IllegalArgumentException e) {
        usage("--" + name + " must be a JSON array of strings, e.g. [\"sleep\",\"3600\"]: " + e.getMessage());
        return null;
      }
    }

    /** The effective options, for the result line. */
    ObjectNode toJson() {
      ObjectNode o = JSON.createObjectNode();
      for (String k : defaults.keySet()) {
        o.put(k, str(k));
      }
      return o;
    }
  }

  /** {@code 500ms}, {@code 30s}, {@code 2m}, or plain seconds. */
  static Duration parseDuration(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      } else if (t.endsWith("s")) {
        return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
      } else if (t.endsWith("m")) {
        return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)) * 60);
      }
      return Duration.ofMillis(Math.round(Double.parseDouble(t) * 1000));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a duration: " + s + " (use e.g. 500ms, 30s, 2m)");
    }
  }

  /** Values recorded in microseconds, 1 µs .. 1 h, 3 significant digits. */
  static Histogram micros() {
    return new Histogram(1, 3_600_000_000L, 3);
  }

  static void recordMicros(Histogram h, long nanos) {
    h.recordValue(Math.max(1, Math.min(3_600_000_000L, nanos / 1000)));
  }

  static double ms(long micros) {
    return micros / 1000.0;
  }

  /** p50/p90/p99/p99.9/max/mean in milliseconds. */
  static ObjectNode summary(Histogram h) {
    ObjectNode o = JSON.createObjectNode();
    o.put("count", h.getTotalCount());
    if (h.getTotalCount() == 0) {
      return o;
    }
    o.put("p50_ms", round3(ms(h.getValueAtPercentile(50))));
    o.put("p90_ms", round3(ms(h.getValueAtPercentile(90))));
    o.put("p99_ms", round3(ms(h.getValueAtPercentile(99))));
    o.put("p999_ms", round3(ms(h.getValueAtPercentile(99.9))));
    o.put("max_ms", round3(ms(h.getMaxValue())));
    o.put("min_ms", round3(ms(h.getMinValue())));
    o.put("mean_ms", round3(h.getMean() / 1000.0));
    return o;
  }

  static String humanSummary(String label, Histogram h) {
    if (h.getTotalCount() == 0) {
      return String.format(Locale.ROOT, "%-22s n=0", label);
    }
    return String.format(
        Locale.ROOT,
        "%-22s n=%d  p50=%.3f ms  p90=%.3f ms  p99=%.3f ms  max=%.3f ms  mean=%.3f ms",
        label,
        h.getTotalCount(),
        ms(h.getValueAtPercentile(50)),
        ms(h.getValueAtPercentile(90)),
        ms(h.getValueAtPercentile(99)),
        ms(h.getMaxValue()),
        h.getMean() / 1000.0);
  }

  static double round3(double v) {
    return Math.round(v * 1000.0) / 1000.0;
  }

  /** The {@code POST /v1/runs} body. */
  static byte[] submitBody(
      List<String> command, Map<String, String> env, long timeoutSeconds, long cancelGraceSeconds, Map<String, String> labels) {
    return submitBody(command, env, timeoutSeconds, cancelGraceSeconds, labels, 0);
  }

  /** The {@code POST /v1/runs} body; {@code maxAttempts > 0} adds a retry policy without backoff. */
  static byte[] submitBody(
      List<String> command, Map<String, String> env, long timeoutSeconds, long cancelGraceSeconds, Map<String, String> labels,
      int maxAttempts) {
    ObjectNode body = JSON.createObjectNode();
    ObjectNode executor = body.putObject("executor");
    executor.put("type", "process");
    ArrayNode cmd = executor.putArray("command");
    command.forEach(cmd::add);
    if (env != null && !env.isEmpty()) {
      ObjectNode e = executor.putObject("env");
      env.forEach(e::put);
    }
    body.put("timeoutSeconds", timeoutSeconds);
    body.put("cancelGraceSeconds", cancelGraceSeconds);
    if (labels != null && !labels.isEmpty()) {
      ObjectNode l = body.putObject("labels");
      labels.forEach(l::put);
    }
    if (maxAttempts > 0) {
      ObjectNode retry = body.putObject("retry");
      retry.put("maxAttempts", maxAttempts);
      retry.put("backoffSeconds", 0);
    }
    try {
      return JSON.writeValueAsBytes(body);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static String stripSlash(String url) {
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }

  static String abbreviate(String s, int max) {
    String oneLine = s.replace('\n', ' ').replace('\r', ' ');
    return oneLine.length() <= max ? oneLine : oneLine.substring(0, max) + "...";
  }
}
