package dev.reins.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The server's OpenAPI description ({@code /reins/openapi.json}) as an oracle for HTTP exchanges:
 * {@link ApiClient} checks every request it sends and every answer it gets against it, so the
 * description cannot drift from the server while the HTTP tests pass.
 *
 * <p>What is checked: the answer's status is described for the operation (or, for a path or method
 * the description does not have, it is a 4xx problem), its content type is one the description
 * gives, and a JSON body validates against the schema (JSON Schema 2020-12, the dialect of OpenAPI
 * 3.1). A request the server accepted (2xx) must be one the description allows: its JSON body and
 * its described query parameters validate. A refused request is not checked against the request
 * schemas: the tests send bad requests on purpose, and the description says they are refused.
 * Event streams and logs are checked for status and content type only.
 */
final class OpenApiContract {
  /** Set to {@code false} ({@code -Dreins.openapi.contract=false}) to run the HTTP tests unchecked. */
  static final boolean ENABLED = Boolean.parseBoolean(System.getProperty("reins.openapi.contract", "true"));

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Set<String> NO_OPERATION = Set.of("OPTIONS");

  static final OpenApiContract SPEC = new OpenApiContract(read());

  private final JsonNode spec;
  private final ObjectNode defs;
  private final List<Template> templates = new ArrayList<>();
  private final JsonSchemaFactory factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012);
  private final SchemaValidatorsConfig config = SchemaValidatorsConfig.builder().formatAssertionsEnabled(true).build();
  private final Map<String, JsonSchema> schemas = new ConcurrentHashMap<>();
  /** What the tests exchanged, by operation and status: written to target/openapi-exchanges.txt when the JVM ends. */
  private final Map<String, java.util.concurrent.atomic.LongAdder> seen = new ConcurrentHashMap<>();

  private record Template(String path, List<String> segments, JsonNode item) {}

  /** One exchange as the client saw it ({@code requestBody} {@code null} or empty: none). */
  record Exchange(String method, URI uri, String requestContentType, String requestBody,
                  int status, String responseContentType, String responseBody, Map<String, List<String>> responseHeaders) {
    @Override
    public String toString() {
      return method + " " + uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery()) + " -> " + status;
    }
  }

  OpenApiContract(JsonNode spec) {
    this.spec = spec;
    this.defs = (ObjectNode) rewriteRefs(spec.path("components").path("schemas"));
    spec.path("paths").fields().forEachRemaining(e ->
        templates.add(new Template(e.getKey(), Endpoint.split(e.getKey()), e.getValue())));
    Runtime.getRuntime().addShutdownHook(new Thread(this::writeSeen, "openapi-exchanges"));
  }

  /** Which operations and answers the test run exercised (and so checked), to see what the tests leave out. */
  private void writeSeen() {
    java.nio.file.Path target = java.nio.file.Path.of("target");
    if (seen.isEmpty() || !java.nio.file.Files.isDirectory(target)) {
      return;
    }
    List<String> lines = new ArrayList<>();
    new java.util.TreeMap<>(seen).forEach((k, n) -> lines.add(k + "\t" + n.sum()));
    try {
      java.nio.file.Files.write(target.resolve("openapi-exchanges.txt"), lines);
    } catch (IOException e) {
      // a report only
    }
  }

  static JsonNode read() {
    try {
      return MAPPER.readTree(OpenApiRoutes.load());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  JsonNode document() {
    return spec;
  }

  /** Throws an {@link AssertionError} naming every way {@code x} departs from the description. */
  void verify(Exchange x) {
    List<String> problems = check(x);
    if (!problems.isEmpty()) {
      throw new AssertionError("the exchange " + x + " does not match the OpenAPI description (http-api/src/main/resources"
          + OpenApiRoutes.RESOURCE + "):\n  - " + String.join("\n  - ", problems)
          + "\n  response: " + x.responseContentType() + " " + abbreviate(x.responseBody())
          + (x.requestBody() == null || x.requestBody().isEmpty() ? "" : "\n  request body: " + abbreviate(x.requestBody())));
    }
  }

  /** The mismatches of {@code x} (empty: it matches). */
  List<String> check(Exchange x) {
    List<String> problems = new ArrayList<>();
    String rawPath = x.uri().getRawPath();
    if (rawPath == null || !rawPath.startsWith("/v1/")) {
      return problems; // not the API
    }
    String method = x.method().toUpperCase(Locale.ROOT);
    if (NO_OPERATION.contains(method)) {
      return problems; // CORS preflights and Allow: the router answers them for every path
    }
    boolean head = method.equals("HEAD");
    Optional<Map.Entry<Template, Map<String, String>>> match = match(rawPath);
    JsonNode operation = match.map(m -> m.getKey().item().path(head ? "get" : method.toLowerCase(Locale.ROOT))).orElse(null);
    if (operation == null || operation.isMissingNode()) {
      // a path or method the API does not have: a problem, never a success
      if (x.status() < 400 || x.status() >= 500) {
        problems.add((operation == null ? "no path of the description matches" : "the description has no " + method
            + " for " + match.get().getKey().path()) + ", yet the server answered " + x.status());
      } else {
        checkBody(problems, resolve(spec.at("/components/schemas/Problem")), "#/components/schemas/Problem", x, true);
      }
      return problems;
    }
    seen.computeIfAbsent(method + " " + match.get().getKey().path() + " " + x.status(),
        k -> new java.util.concurrent.atomic.LongAdder()).increment();
    String where = "#/paths/" + pointerEscape(match.get().getKey().path()) + "/" + (head ? "get" : method.toLowerCase(Locale.ROOT));
    if (x.status() >= 200 && x.status() < 300) {
      checkRequest(problems, where, match.get().getKey().item(), operation, x);
    }
    JsonNode responses = operation.path("responses");
    String code = Integer.toString(x.status());
    JsonNode response = responses.has(code) ? responses.get(code)
        : responses.has(code.charAt(0) + "XX") ? responses.get(code.charAt(0) + "XX") : responses.get("default");
    if (response == null) {
      problems.add("status " + code + " is not described for " + method + " " + match.get().getKey().path()
          + " (described: " + String.join(", ", iterable(responses.fieldNames())) + ")");
      return problems;
    }
    response = resolve(response);
    response.path("headers").fields().forEachRemaining(h -> {
      if (resolve(h.getValue()).path("required").asBoolean() && x.responseHeaders() != null
          && x.responseHeaders().keySet().stream().noneMatch(n -> n.equalsIgnoreCase(h.getKey()))) {
        problems.add("the header " + h.getKey() + " is required for status " + code + " but missing");
      }
    });
    JsonNode content = response.path("content");
    if (head || content.isMissingNode() || content.isEmpty()) {
      return problems; // nothing described, or no body to look at
    }
    String mediaType = mediaType(x.responseContentType());
    JsonNode media = content.get(mediaType);
    if (media == null) {
      problems.add("content type " + x.responseContentType() + " is not described for status " + code
          + " (described: " + String.join(", ", iterable(content.fieldNames())) + ")");
      return problems;
    }
    if (isJson(mediaType)) {
      checkBody(problems, media.path("schema"), where + "/responses/" + code, x, true);
    }
    return problems;
  }

  private void checkRequest(List<String> problems, String where, JsonNode item, JsonNode operation, Exchange x) {
    Map<String, List<String>> query = query(x.uri().getRawQuery());
    List<JsonNode> parameters = new ArrayList<>();
    item.path("parameters").forEach(p -> parameters.add(resolve(p)));
    operation.path("parameters").forEach(p -> parameters.add(resolve(p)));
    for (JsonNode p : parameters) {
      if (!p.path("in").asText().equals("query")) {
        continue;
      }
      String name = p.path("name").asText();
      List<String> values = query.get(name);
      if (values == null) {
        if (p.path("required").asBoolean()) {
          problems.add("the required query parameter " + name + " is missing, yet the server answered " + x.status());
        }
        continue;
      }
      JsonNode schema = resolve(p.path("schema"));
      JsonNode value;
      if (schema.path("type").asText().equals("array")) {
        value = JsonNodeFactory.instance.arrayNode();
        JsonNode items = resolve(schema.path("items"));
        values.forEach(v -> ((com.fasterxml.jackson.databind.node.ArrayNode) value).add(typed(v, items)));
      } else {
        if (values.size() > 1) {
          problems.add("the query parameter " + name + " is given " + values.size() + " times, yet the server answered " + x.status());
        }
        value = typed(values.get(0), schema);
      }
      validate(problems, p.path("schema"), value, "query parameter " + name);
    }
    boolean hasBody = x.requestBody() != null && !x.requestBody().isEmpty();
    JsonNode body = resolve(operation.path("requestBody"));
    if (body.isMissingNode()) {
      return;
    }
    if (!hasBody) {
      if (body.path("required").asBoolean()) {
        problems.add("the request body is required, yet a request without one was answered " + x.status());
      }
      return;
    }
    String mediaType = mediaType(x.requestContentType());
    JsonNode media = body.path("content").get(mediaType);
    if (media == null) {
      problems.add("a request body of type " + x.requestContentType() + " was accepted (" + x.status() + "), but the description has only "
          + String.join(", ", iterable(body.path("content").fieldNames())));
      return;
    }
    JsonNode json;
    try {
      json = MAPPER.readTree(x.requestBody());
    } catch (IOException e) {
      problems.add("a request body that is not JSON was accepted (" + x.status() + ")");
      return;
    }
    validate(problems, media.path("schema"), json, "the request body (accepted with " + x.status() + ")");
  }

  private void checkBody(List<String> problems, JsonNode schema, String where, Exchange x, boolean response) {
    String mediaType = mediaType(x.responseContentType());
    if (schema == spec.at("/components/schemas/Problem") || schema.path("$ref").asText().endsWith("/Problem")) {
      if (!mediaType.equals("application/problem+json")) {
        problems.add("a problem must be application/problem+json, not " + x.responseContentType());
        return;
      }
      schema = MAPPER.createObjectNode().put("$ref", "#/components/schemas/Problem");
    }
    JsonNode json;
    try {
      json = MAPPER.readTree(x.responseBody() == null ? "" : x.responseBody());
    } catch (IOException e) {
      problems.add("the response body is not JSON: " + e.getMessage());
      return;
    }
    if (json == null || json.isMissingNode()) {
      problems.add("the response body is empty, the description gives it a schema (" + where + ")");
      return;
    }
    validate(problems, schema, json, "the response body");
  }

  private void validate(List<String> problems, JsonNode schema, JsonNode value, String what) {
    JsonSchema compiled = schemas.computeIfAbsent(schema.toString(), key -> {
      JsonNode rewritten = rewriteRefs(schema);
      ObjectNode root = rewritten.isObject() ? ((ObjectNode) rewritten).deepCopy() : MAPPER.createObjectNode();
      root.put("$schema", "https://json-schema.org/draft/2020-12/schema");
      root.set("$defs", defs);
      return factory.getSchema(root, config);
    });
    for (ValidationMessage m : compiled.validate(value)) {
      problems.add(what + ": " + m.getMessage());
    }
  }

  /** A query parameter's text as the JSON value its schema describes (left a string when it is not one). */
  private static JsonNode typed(String text, JsonNode schema) {
    String type = schema.path("type").asText();
    try {
      switch (type) {
        case "integer":
          return JsonNodeFactory.instance.numberNode(Long.parseLong(text));
        case "boolean":
          if (text.equals("true") || text.equals("false")) {
            return JsonNodeFactory.instance.booleanNode(Boolean.parseBoolean(text));
          }
          break;
        default:
          break;
      }
    } catch (NumberFormatException e) {
      // left as text: the schema says what is wrong with it
    }
    return JsonNodeFactory.instance.textNode(text);
  }

  private JsonNode resolve(JsonNode node) {
    JsonNode n = node;
    while (n.has("$ref") && n.get("$ref").asText().startsWith("#/components/") && !n.get("$ref").asText().startsWith("#/components/schemas/")) {
      n = spec.at(n.get("$ref").asText().substring(1));
    }
    if (n.has("$ref") && n.get("$ref").asText().startsWith("#/components/schemas/")) {
      JsonNode target = spec.at(n.get("$ref").asText().substring(1));
      return target.isMissingNode() ? n : target;
    }
    return n;
  }

  /** Schemas copied out of the document refer to each other under {@code $defs}. */
  private static JsonNode rewriteRefs(JsonNode schema) {
    try {
      return MAPPER.readTree(schema.toString().replace("\"#/components/schemas/", "\"#/$defs/"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Optional<Map.Entry<Template, Map<String, String>>> match(String rawPath) {
    List<String> segments = new ArrayList<>();
    for (String s : Endpoint.split(rawPath)) {
      try {
        segments.add(URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        return Optional.empty();
      }
    }
    Template best = null;
    Map<String, String> bestParams = null;
    for (Template t : templates) {
      Map<String, String> params = params(t.segments(), segments);
      // a literal segment wins over a parameter (/runs/{id} against a literal sibling)
      if (params != null && (best == null || params.size() < bestParams.size())) {
        best = t;
        bestParams = params;
      }
    }
    return best == null ? Optional.empty() : Optional.of(Map.entry(best, bestParams));
  }

  private static Map<String, String> params(List<String> template, List<String> segments) {
    if (template.size() != segments.size()) {
      return null;
    }
    Map<String, String> params = new LinkedHashMap<>();
    for (int i = 0; i < template.size(); i++) {
      String t = template.get(i);
      String s = segments.get(i);
      if (t.startsWith("{") && t.endsWith("}")) {
        if (s.isEmpty()) {
          return null;
        }
        params.put(t.substring(1, t.length() - 1), s);
      } else if (!t.equals(s)) {
        return null;
      }
    }
    return params;
  }

  private static Map<String, List<String>> query(String raw) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String name = decode(eq < 0 ? pair : pair.substring(0, eq));
      String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
      out.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
    }
    return out;
  }

  private static String decode(String s) {
    try {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return s;
    }
  }

  private static String mediaType(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semi = contentType.indexOf(';');
    return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
  }

  private static boolean isJson(String mediaType) {
    return mediaType.equals("application/json") || mediaType.endsWith("+json");
  }

  private static String pointerEscape(String s) {
    return s.replace("~", "~0").replace("/", "~1");
  }

  private static Iterable<String> iterable(Iterator<String> it) {
    List<String> out = new ArrayList<>();
    it.forEachRemaining(out::add);
    return out;
  }

  private static String abbreviate(String s) {
    if (s == null) {
      return "(none)";
    }
    return s.length() <= 600 ? s : s.substring(0, 600) + "…";
  }
}
