package dev.reins.http;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict reader of the Prometheus text exposition format (0.0.4): every line is a {@code # HELP},
 * a {@code # TYPE} or a sample {@code name{label="value",...} number}; anything else fails. The
 * samples are kept by their series ({@code name{labels}} with the labels sorted).
 */
public record PrometheusText(Map<String, Double> samples, Map<String, String> types) {
  private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})? (\\S+)( -?\\d+)?");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\[\\\\\"n])*)\"(,|$)");
  private static final Pattern TYPE = Pattern.compile("# TYPE (\\S+) (counter|gauge|histogram|summary|untyped)");

  public static PrometheusText parse(String text) {
    Map<String, Double> samples = new LinkedHashMap<>();
    Map<String, String> types = new LinkedHashMap<>();
    int n = 0;
    for (String line : text.split("\n")) {
      n++;
      if (line.isEmpty() || line.startsWith("# HELP ")) {
        continue;
      }
      Matcher t = TYPE.matcher(line);
      if (t.matches()) {
        if (!NAME.matcher(t.group(1)).matches() || types.put(t.group(1), t.group(2)) != null) {
          throw new IllegalArgumentException("line " + n + ": a bad or repeated TYPE: " + line);
        }
        continue;
      }
      if (line.startsWith("#")) {
        throw new IllegalArgumentException("line " + n + ": an unknown comment: " + line);
      }
      Matcher m = SAMPLE.matcher(line);
      if (!m.matches()) {
        throw new IllegalArgumentException("line " + n + ": not a sample: " + line);
      }
      Map<String, String> labels = new TreeMap<>();
      if (m.group(3) != null && !m.group(3).isEmpty()) {
        Matcher l = LABEL.matcher(m.group(3));
        int at = 0;
        while (at < m.group(3).length()) {
          if (!l.find(at) || l.start() != at) {
            throw new IllegalArgumentException("line " + n + ": bad labels: " + line);
          }
          labels.put(l.group(1), l.group(2));
          at = l.end();
        }
      }
      double value = switch (m.group(4)) {
        case "+Inf" -> Double.POSITIVE_INFINITY;
        case "-Inf" -> Double.NEGATIVE_INFINITY;
        case "NaN" -> Double.NaN;
        default -> Double.parseDouble(m.group(4));
      };
      String key = series(m.group(1), labels);
      if (samples.put(key, value) != null) {
        throw new IllegalArgumentException("line " + n + ": a repeated series: " + line);
      }
    }
    return new PrometheusText(samples, types);
  }

  static String series(String name, Map<String, String> labels) {
    if (labels.isEmpty()) {
      return name;
    }
    StringBuilder b = new StringBuilder(name).append('{');
    new TreeMap<>(labels).forEach((k, v) -> b.append(k).append("=\"").append(v).append("\","));
    b.setLength(b.length() - 1);
    return b.append('}').toString();
  }

  /** A series' value, 0 when absent (a counter not yet incremented does not exist yet). */
  public double value(String name, String... labelPairs) {
    Map<String, String> labels = new TreeMap<>();
    for (int i = 0; i < labelPairs.length; i += 2) {
      labels.put(labelPairs[i], labelPairs[i + 1]);
    }
    return samples.getOrDefault(series(name, labels), 0.0);
  }

  /** The sum of every series of {@code name} whose labels include the given ones. */
  public double sum(String name, String... labelPairs) {
    double total = 0;
    for (Map.Entry<String, Double> e : samples.entrySet()) {
      String key = e.getKey();
      if (!key.equals(name) && !key.startsWith(name + "{")) {
        continue;
      }
      boolean all = true;
      for (int i = 0; i < labelPairs.length; i += 2) {
        all &= key.contains(labelPairs[i] + "=\"" + labelPairs[i + 1] + "\"");
      }
      if (all) {
        total += e.getValue();
      }
    }
    return total;
  }

  /** The metric names of every sample (histogram series included: {@code _bucket}, {@code _count}, ...). */
  public Set<String> names() {
    Set<String> names = new LinkedHashSet<>();
    for (String key : samples.keySet()) {
      int brace = key.indexOf('{');
      names.add(brace < 0 ? key : key.substring(0, brace));
    }
    return names;
  }
}
