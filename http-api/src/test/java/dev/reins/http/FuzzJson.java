package dev.reins.http;

import static dev.reins.http.Fuzz.chance;
import static dev.reins.http.Fuzz.constant;
import static dev.reins.http.Fuzz.element;
import static dev.reins.http.Fuzz.ints;
import static dev.reins.http.Fuzz.longs;
import static dev.reins.http.Fuzz.strings;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import dev.reins.http.Fuzz.Gen;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;

/**
 * JSON-like request bodies near the real shapes of the API (valid ones, and ones broken in every
 * way a client can break them), and an oracle, written apart from the server's code, that says
 * which of them are valid.
 */
final class FuzzJson {
  private FuzzJson() {}

  // ---- a JSON model that can also be wrong ------------------------------------------------------

  /** A JSON value, or text that only looks like one ({@link Raw}). Objects may repeat keys. */
  sealed interface J permits Obj, Arr, Str, Num, Lit, Raw {}

  record Obj(List<Map.Entry<String, J>> fields) implements J {}

  record Arr(List<J> items) implements J {}

  /** A string; {@code escapeAll} writes every non-ASCII character as a {@code \\u} escape. */
  record Str(String value, boolean escapeAll) implements J {}

  record Num(String literal) implements J {}

  /** {@code true}, {@code false} or {@code null}. */
  record Lit(String literal) implements J {}

  record Raw(String text) implements J {}

  static J str(String s) {
    return new Str(s, false);
  }

  static Obj obj(List<Map.Entry<String, J>> fields) {
    return new Obj(new ArrayList<>(fields));
  }

  static String write(J j) {
    StringBuilder sb = new StringBuilder();
    write(j, sb);
    return sb.toString();
  }

  private static void write(J j, StringBuilder sb) {
    if (j instanceof Obj o) {
      sb.append('{');
      for (int i = 0; i < o.fields().size(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        writeString(o.fields().get(i).getKey(), false, sb);
        sb.append(':');
        write(o.fields().get(i).getValue(), sb);
      }
      sb.append('}');
    } else if (j instanceof Arr a) {
      sb.append('[');
      for (int i = 0; i < a.items().size(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        write(a.items().get(i), sb);
      }
      sb.append(']');
    } else if (j instanceof Str s) {
      writeString(s.value(), s.escapeAll(), sb);
    } else if (j instanceof Num n) {
      sb.append(n.literal());
    } else if (j instanceof Lit l) {
      sb.append(l.literal());
    } else if (j instanceof Raw r) {
      sb.append(r.text());
    }
  }

  /** Lone surrogates are always escaped: raw, they would not survive encoding to UTF-8. */
  private static void writeString(String s, boolean escapeAll, StringBuilder sb) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean lone = Character.isSurrogate(c) && !(Character.isHighSurrogate(c) && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) && !(Character.isLowSurrogate(c) && i > 0
          && Character.isHighSurrogate(s.charAt(i - 1)));
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c < 0x20 || lone || (escapeAll && c > 0x7e)) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    sb.append('"');
  }

  // ---- generators -------------------------------------------------------------------------------

  static final Set<String> SUBMIT_FIELDS =
      Set.of("executor", "timeoutSeconds", "cancelGraceSeconds", "retry", "labels", "idempotencyKey");
  static final Set<String> EXECUTOR_FIELDS = Set.of("type", "command", "env", "workdir");
  static final Set<String> RETRY_FIELDS = Set.of("maxAttempts", "backoffSeconds");
  /** Keys a broken body uses: the real ones, near misses, and anything at all. */
  private static final List<String> KEY_WORDS = List.of("executor", "command", "type", "env", "workdir", "timeoutSeconds",
      "cancelGraceSeconds", "retry", "maxAttempts", "backoffSeconds", "labels", "idempotencyKey", "reason", "attempt",
      "Executor", "commands", "timeoutSecond", "attempt ", "ATTEMPT", "__proto__", "constructor", "$type", "@class", "",
      "id", "state", "tenant", "version");

  static Gen<String> anyString(int max) {
    return Fuzz.<String>weighted()
        .or(6, strings(Fuzz.anyCodePoint(), 0, max))
        .or(2, strings(Fuzz.alphanumeric(), 1, 12))
        .or(1, element("", " ", "\t", "\u0000", "a\u0000b", "=", "A=B", "/", "/tmp", "tmp", "process", "docker",
            "\ud800", "\udfff", "\ud83d\ude00", "\u202e", "..", "../../etc/passwd", "$(id)", "; rm -rf /", "null"))
        .or(1, strings(Fuzz.anyCodePoint(), 1000, 6000));
  }

  /** Numbers at and around every bound the API has, huge ones, and literals JSON does not allow. */
  static Gen<J> oddNumber() {
    return Fuzz.<J>weighted()
        .or(5, element("0", "-0", "1", "-1", "2", "99", "1.5", "1.0", "1e3", "1E400", "-1e-400", "0.0000001",
            "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
            "2147483647", "2147483648", "-2147483648", "31536000", "31536001", "3600", "3601", "86400", "86401",
            "1000", "1001", "64", "65").map(Num::new))
        .or(1, element("00", "01", "+1", ".5", "5.", "NaN", "Infinity", "-Infinity", "-", "1e", "0x10", "1_000")
            .map(Num::new))
        .or(2, longs(Long.MIN_VALUE, Long.MAX_VALUE).map(n -> new Num(Long.toString(n))))
        .or(1, strings(ints('0', '9'), 20, 1500).map(Num::new));
  }

  /** Any value at all, of bounded size; objects use the API's own keys most of the time. */
  static Gen<J> anyValue(int depth) {
    Fuzz.Weighted<J> scalar = Fuzz.<J>weighted()
        .or(3, anyString(40).flatMap(s -> chance(0.3).map(e -> new Str(s, e))))
        .or(3, oddNumber())
        .or(2, element("true", "false", "null").map(Lit::new))
        .or(1, element("undefined", "'x'", "\"unterminated", "{", "]", "/*c*/1", "\"a\u0000b\"", "\"\\x\"", "\"\\ud800\"",
            "\"\\u12\"", "tru", "nul", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "\u00a0", "\"\t\"").map(Raw::new));
    if (depth <= 0) {
      return scalar;
    }
    return Fuzz.<J>weighted()
        .or(5, scalar)
        .or(2, r -> {
          int n = r.nextInt(0, 5);
          List<Map.Entry<String, J>> fields = new ArrayList<>();
          for (int i = 0; i < n; i++) {
            String key = r.nextInt(4) == 0 ? anyString(12).next(r) : KEY_WORDS.get(r.nextInt(KEY_WORDS.size()));
            fields.add(Map.entry(key, anyValue(depth - 1).next(r)));
          }
          return obj(fields);
        })
        .or(2, r -> new Arr(new ArrayList<>(Fuzz.lists(anyValue(depth - 1), 0, 4).next(r))))
        .or(1, deepNesting());
  }

  /** Arrays or objects nested up to well past the parser's depth limit. */
  static Gen<J> deepNesting() {
    return r -> {
      int depth = r.nextInt(4) == 0 ? r.nextInt(900, 3000) : r.nextInt(1, 100);
      boolean arrays = r.nextBoolean();
      StringBuilder sb = new StringBuilder();
      sb.append((arrays ? "[" : "{\"a\":").repeat(depth)).append("1").append((arrays ? "]" : "}").repeat(depth));
      return new Raw(sb.toString());
    };
  }

  static Gen<J> validString(int min, int max) {
    return strings(r -> {
      int cp = Fuzz.anyCodePoint().next(r);
      return cp == 0 ? 'x' : cp; // NUL is the one character the API refuses in its strings
    }, min, max).flatMap(s -> chance(0.2).map(e -> (J) new Str(s, e)));
  }

  /** A POST /v1/runs body that obeys every rule (commands are harmless: true, echo). */
  static Gen<Obj> validSubmission() {
    return r -> {
      List<Map.Entry<String, J>> executor = new ArrayList<>();
      List<J> command = new ArrayList<>();
      command.add(str(element("true", "/bin/true", "echo").next(r)));
      command.addAll(Fuzz.lists(validString(0, 20), 0, 3).next(r));
      executor.add(Map.entry("command", new Arr(command)));
      if (r.nextBoolean()) {
        executor.add(Map.entry("type", r.nextInt(3) == 0 ? new Lit("null") : str("process")));
      }
      if (r.nextInt(3) == 0) {
        executor.add(Map.entry("env", r.nextInt(4) == 0 ? new Lit("null") : envVars().next(r)));
      }
      if (r.nextInt(4) == 0) {
        executor.add(Map.entry("workdir", element(new Lit("null"), str("/tmp"), str("/")).next(r)));
      }
      Collections.shuffle(executor, new Random(r.nextLong()));
      List<Map.Entry<String, J>> fields = new ArrayList<>();
      fields.add(Map.entry("executor", obj(executor)));
      if (r.nextInt(3) == 0) {
        fields.add(Map.entry("timeoutSeconds", optionalNumber(1, 365L * 24 * 3600).next(r)));
      }
      if (r.nextInt(3) == 0) {
        fields.add(Map.entry("cancelGraceSeconds", optionalNumber(0, 3600).next(r)));
      }
      if (r.nextInt(3) == 0) {
        List<Map.Entry<String, J>> retry = new ArrayList<>();
        if (r.nextBoolean()) {
          retry.add(Map.entry("maxAttempts", optionalNumber(1, 1000).next(r)));
        }
        if (r.nextBoolean()) {
          retry.add(Map.entry("backoffSeconds", optionalNumber(0, 86400).next(r)));
        }
        fields.add(Map.entry("retry", r.nextInt(5) == 0 ? new Lit("null") : obj(retry)));
      }
      if (r.nextInt(3) == 0) {
        List<Map.Entry<String, J>> labels = new ArrayList<>();
        int n = r.nextInt(10) == 0 ? 64 : r.nextInt(0, 5);
        for (int i = 0; i < n; i++) {
          labels.add(Map.entry("l" + i + validString(0, 8).map(j -> ((Str) j).value()).next(r), validString(0, 30).next(r)));
        }
        fields.add(Map.entry("labels", obj(labels)));
      }
      if (r.nextInt(3) == 0) {
        fields.add(Map.entry("idempotencyKey", r.nextInt(5) == 0 ? new Lit("null") : validString(1, r.nextInt(8) == 0 ? 200 : 30)
            .map(s -> cut((Str) s, 200)).next(r)));
      }
      Collections.shuffle(fields, new Random(r.nextLong()));
      return obj(fields);
    };
  }

  private static J cut(Str s, int maxChars) {
    String v = s.value();
    if (v.length() <= maxChars) {
      return s;
    }
    int end = Character.isHighSurrogate(v.charAt(maxChars - 1)) ? maxChars - 1 : maxChars;
    return new Str(v.substring(0, end), s.escapeAll());
  }

  private static Gen<J> envVars() {
    return r -> {
      List<Map.Entry<String, J>> env = new ArrayList<>();
      int n = r.nextInt(0, 4);
      for (int i = 0; i < n; i++) {
        String name = "V" + i + strings(Fuzz.alphanumeric(), 0, 6).next(r);
        env.add(Map.entry(name, validString(0, 30).next(r)));
      }
      return obj(env);
    };
  }

  private static Gen<J> optionalNumber(long min, long max) {
    return Fuzz.<J>weighted()
        .or(1, constant(new Lit("null")))
        .or(2, element(min, max).map(n -> new Num(Long.toString(n))))
        .or(4, longs(min, max).map(n -> new Num(Long.toString(n))));
  }

  static Gen<Obj> validCancel() {
    return r -> {
      List<Map.Entry<String, J>> fields = new ArrayList<>();
      if (r.nextBoolean()) {
        fields.add(Map.entry("reason", r.nextInt(5) == 0 ? new Lit("null") : validString(0, r.nextInt(10) == 0 ? 1000 : 40)
            .map(s -> cut((Str) s, 1000)).next(r)));
      }
      if (r.nextBoolean()) {
        fields.add(Map.entry("attempt", attemptNumber().next(r)));
      }
      return obj(fields);
    };
  }

  static Gen<Obj> validReset() {
    return r -> {
      List<Map.Entry<String, J>> fields = new ArrayList<>();
      if (r.nextBoolean()) {
        fields.add(Map.entry("attempt", attemptNumber().next(r)));
      }
      return obj(fields);
    };
  }

  private static Gen<J> attemptNumber() {
    return Fuzz.<J>weighted()
        .or(1, constant(new Lit("null")))
        .or(3, element("1", "0", "2", "-1", "2147483647", "-2147483648").map(Num::new))
        .or(1, ints(Integer.MIN_VALUE, Integer.MAX_VALUE - 1).map(n -> new Num(Integer.toString(n))));
  }

  /** Breaks {@code body} in one to three places: a value replaced, a field dropped, added or repeated. */
  static Gen<J> mutated(Gen<Obj> valid) {
    return r -> {
      Obj body = valid.next(r);
      int mutations = r.nextInt(1, 4);
      for (int m = 0; m < mutations; m++) {
        List<Obj> objects = new ArrayList<>();
        collectObjects(body, objects);
        Obj target = objects.get(r.nextInt(objects.size()));
        List<Map.Entry<String, J>> fields = target.fields();
        switch (r.nextInt(5)) {
          case 0, 1 -> {
            if (!fields.isEmpty()) {
              int i = r.nextInt(fields.size());
              fields.set(i, Map.entry(fields.get(i).getKey(), anyValue(2).next(r)));
            }
          }
          case 2 -> {
            if (!fields.isEmpty()) {
              fields.remove(r.nextInt(fields.size()));
            }
          }
          case 3 -> fields.add(r.nextInt(fields.size() + 1),
              Map.entry(r.nextBoolean() ? KEY_WORDS.get(r.nextInt(KEY_WORDS.size())) : anyString(10).next(r), anyValue(1).next(r)));
          default -> {
            if (!fields.isEmpty()) {
              Map.Entry<String, J> copy = fields.get(r.nextInt(fields.size()));
              fields.add(copy);
            }
          }
        }
        // also reach into arrays (command arguments)
        if (r.nextInt(4) == 0) {
          List<Arr> arrays = new ArrayList<>();
          collectArrays(body, arrays);
          if (!arrays.isEmpty()) {
            Arr a = arrays.get(r.nextInt(arrays.size()));
            if (a.items().isEmpty() || r.nextBoolean()) {
              a.items().add(anyValue(1).next(r));
            } else {
              a.items().set(r.nextInt(a.items().size()), anyValue(1).next(r));
            }
          }
        }
      }
      return body;
    };
  }

  private static void collectObjects(J j, List<Obj> into) {
    if (j instanceof Obj o) {
      into.add(o);
      o.fields().forEach(e -> collectObjects(e.getValue(), into));
    } else if (j instanceof Arr a) {
      a.items().forEach(i -> collectObjects(i, into));
    }
  }

  private static void collectArrays(J j, List<Arr> into) {
    if (j instanceof Obj o) {
      o.fields().forEach(e -> collectArrays(e.getValue(), into));
    } else if (j instanceof Arr a) {
      into.add(a);
      a.items().forEach(i -> collectArrays(i, into));
    }
  }

  /** Body text near {@code valid}: itself, broken, cut short, with garbage around it, or anything at all. */
  static Gen<String> bodyText(Gen<Obj> valid) {
    return Fuzz.<String>weighted()
        .or(25, valid.map(FuzzJson::write))
        .or(30, mutated(valid).map(FuzzJson::write))
        .or(8, valid.map(FuzzJson::write).flatMap(s -> ints(0, s.length() - 1).map(n -> cutText(s, n))))
        .or(4, valid.map(FuzzJson::write).flatMap(s -> element(
            s + s, s + " trailing", s + "\u0000", "[" + s + "]", "\ufeff" + s, " \r\n\t" + s + "\n ", s + "//c", "/*c*/" + s,
            s.replace("\"", "'"), s.replace(":", " : "), s.replace(",", ",,"))))
        .or(15, anyValue(3).map(FuzzJson::write))
        .or(5, element("", " ", "\n", "null", "{}", "[]", "0", "\"\"", "true", "{\"\":null}", "\u0000", "\ufeff"))
        .or(3, deepNesting().map(FuzzJson::write));
  }

  private static String cutText(String s, int n) {
    // never cut a surrogate pair in half: the pair would become a '?' on encoding, not a cut
    int end = n > 0 && Character.isHighSurrogate(s.charAt(n - 1)) ? n - 1 : n;
    return s.substring(0, end);
  }

  // ---- the oracle -------------------------------------------------------------------------------

  enum Verdict { VALID, INVALID, UNKNOWN }

  /** A verdict on a body, and the {@code attempt} it names when it is a valid cancel or reset. */
  record Judged(Verdict verdict, Integer attempt) {
    static final Judged INVALID = new Judged(Verdict.INVALID, null);
    static final Judged UNKNOWN = new Judged(Verdict.UNKNOWN, null);
  }

  private static final ObjectMapper STRICT = JsonMapper.builder()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  /**
   * Applies {@code rules} to the body as the server reads it (one JSON value; none reads as JSON
   * {@code null}): {@code invalid} for a syntax error, {@code unknown} for a key given twice (the
   * server takes the last; no rule says it must).
   */
  private static <T> T judge(String body, T invalid, T unknown, Function<JsonNode, T> rules) {
    if (body.isBlank()) {
      return rules.apply(NullNode.instance);
    }
    try {
      JsonNode tree = STRICT.readTree(body);
      return holdsHalfASurrogatePair(tree) ? invalid : rules.apply(tree);
    } catch (JsonParseException e) {
      return e.getOriginalMessage().startsWith("Duplicate field") ? unknown : invalid;
    } catch (IOException e) {
      return invalid;
    }
  }

  /** A string (key or value) with half of a UTF-16 surrogate pair is no text: the API refuses it. */
  private static boolean holdsHalfASurrogatePair(JsonNode node) {
    if (node.isTextual()) {
      return halfPair(node.textValue());
    }
    for (Iterator<Map.Entry<String, JsonNode>> fields = node.fields(); fields.hasNext(); ) {
      Map.Entry<String, JsonNode> field = fields.next();
      if (halfPair(field.getKey()) || holdsHalfASurrogatePair(field.getValue())) {
        return true;
      }
    }
    if (node.isArray()) {
      for (JsonNode element : node) {
        if (holdsHalfASurrogatePair(element)) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean halfPair(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return true;
      }
    }
    return false;
  }

  /** POST /v1/runs: the README's rules, restated. */
  static Verdict submit(String body) {
    return judge(body, Verdict.INVALID, Verdict.UNKNOWN, FuzzJson::submission);
  }

  private static Verdict submission(JsonNode root) {
    if (!root.isObject() || !onlyFields(root, SUBMIT_FIELDS)) {
      return Verdict.INVALID;
    }
    JsonNode executor = root.get("executor");
    if (executor == null || !executor.isObject() || !onlyFields(executor, EXECUTOR_FIELDS)) {
      return Verdict.INVALID;
    }
    JsonNode type = executor.get("type");
    if (!isNull(type) && !(type.isTextual() && type.asText().equals("process"))) {
      return Verdict.INVALID;
    }
    JsonNode command = executor.get("command");
    if (command == null || !command.isArray() || command.isEmpty()) {
      return Verdict.INVALID;
    }
    for (JsonNode arg : command) {
      if (!textWithoutNul(arg)) {
        return Verdict.INVALID;
      }
    }
    if (command.get(0).asText().isBlank()) {
      return Verdict.INVALID;
    }
    JsonNode env = executor.get("env");
    if (!isNull(env)) {
      if (!env.isObject()) {
        return Verdict.INVALID;
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = env.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().isEmpty() || e.getKey().contains("=") || e.getKey().contains("\0") || !textWithoutNul(e.getValue())) {
          return Verdict.INVALID;
        }
      }
    }
    JsonNode workdir = executor.get("workdir");
    if (!isNull(workdir) && !(textWithoutNul(workdir) && !workdir.asText().isBlank() && workdir.asText().startsWith("/"))) {
      return Verdict.INVALID;
    }
    if (!longIn(root.get("timeoutSeconds"), 1, 365L * 24 * 3600) || !longIn(root.get("cancelGraceSeconds"), 0, 3600)) {
      return Verdict.INVALID;
    }
    JsonNode retry = root.get("retry");
    if (!isNull(retry)) {
      if (!retry.isObject() || !onlyFields(retry, RETRY_FIELDS)) {
        return Verdict.INVALID;
      }
      if (!longIn(retry.get("maxAttempts"), 1, 1000) || !longIn(retry.get("backoffSeconds"), 0, 86400)) {
        return Verdict.INVALID;
      }
    }
    JsonNode labels = root.get("labels");
    if (!isNull(labels)) {
      if (!labels.isObject() || labels.size() > 64) {
        return Verdict.INVALID;
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = labels.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().isEmpty() || !e.getValue().isTextual()) {
          return Verdict.INVALID;
        }
      }
    }
    JsonNode key = root.get("idempotencyKey");
    if (!isNull(key) && !(key.isTextual() && !key.asText().isEmpty() && key.asText().length() <= 200)) {
      return Verdict.INVALID;
    }
    return Verdict.VALID;
  }

  /** POST .../cancel: none, {@code null}, or an object of {@code reason} (at most 1000 chars) and {@code attempt}. */
  static Judged cancel(String body) {
    return command(body, Set.of("reason", "attempt"));
  }

  /** POST .../reset: none, {@code null}, or an object of {@code attempt}. */
  static Judged reset(String body) {
    return command(body, Set.of("attempt"));
  }

  private static Judged command(String body, Set<String> allowed) {
    return judge(body, Judged.INVALID, Judged.UNKNOWN, root -> command(root, allowed));
  }

  private static Judged command(JsonNode root, Set<String> allowed) {
    if (root.isNull()) {
      return new Judged(Verdict.VALID, null);
    }
    if (!root.isObject() || !onlyFields(root, allowed)) {
      return Judged.INVALID;
    }
    JsonNode reason = root.get("reason");
    if (!isNull(reason) && !(reason.isTextual() && reason.asText().length() <= 1000)) {
      return Judged.INVALID;
    }
    JsonNode attempt = root.get("attempt");
    if (isNull(attempt)) {
      return new Judged(Verdict.VALID, null);
    }
    if (!attempt.isIntegralNumber() || !attempt.canConvertToInt()) {
      return Judged.INVALID;
    }
    return new Judged(Verdict.VALID, attempt.intValue());
  }

  private static boolean onlyFields(JsonNode object, Set<String> allowed) {
    for (Iterator<String> it = object.fieldNames(); it.hasNext(); ) {
      if (!allowed.contains(it.next())) {
        return false;
      }
    }
    return true;
  }

  private static boolean isNull(JsonNode n) {
    return n == null || n.isNull();
  }

  private static boolean textWithoutNul(JsonNode n) {
    return n != null && n.isTextual() && !n.asText().contains("\0");
  }

  /** Absent, {@code null}, or a whole number (no fraction, no exponent) within {@code [min, max]}. */
  private static boolean longIn(JsonNode n, long min, long max) {
    if (isNull(n)) {
      return true;
    }
    return n.isIntegralNumber() && n.canConvertToLong() && n.longValue() >= min && n.longValue() <= max;
  }
}
