package dev.reins.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpResponse;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The OpenAPI description against the endpoint table: every route is described and nothing else,
 * with the access the table gives it. (The contract itself, every exchange of the HTTP tests
 * against the description, is checked in {@link ApiClient}.)
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenApiTest {
  private static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "patch", "head", "options", "trace");

  private TestServer server;
  private final JsonNode spec = OpenApiContract.SPEC.document();

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  void stop() {
    server.close();
  }

  @Test
  void describes_every_endpoint_of_the_table_and_nothing_else() {
    Set<String> table = new TreeSet<>();
    for (Endpoint e : server.server.endpoints()) {
      table.add(e.method() + " /v1" + e.path());
    }
    Set<String> described = new TreeSet<>();
    spec.path("paths").fields().forEachRemaining(path -> path.getValue().fieldNames().forEachRemaining(method -> {
      if (METHODS.contains(method)) {
        described.add(method.toUpperCase(Locale.ROOT) + " " + path.getKey());
      }
    }));
    Set<String> undescribed = new TreeSet<>(table);
    undescribed.removeAll(described);
    Set<String> stale = new TreeSet<>(described);
    stale.removeAll(table);
    assertEquals(Set.of(), undescribed, "endpoints missing from http-api/src/main/resources/reins/openapi.json");
    assertEquals(Set.of(), stale, "operations in openapi.json that the server does not have");
  }

  @Test
  void every_reference_resolves_and_operation_ids_are_unique() {
    java.util.List<String> refs = new java.util.ArrayList<>();
    collectRefs(spec, refs);
    assertFalse(refs.isEmpty());
    for (String ref : refs) {
      assertTrue(ref.startsWith("#/") && !spec.at(ref.substring(1)).isMissingNode(), "the $ref " + ref + " resolves in openapi.json");
    }
    Set<String> ids = new TreeSet<>();
    spec.path("paths").forEach(item -> item.fields().forEachRemaining(op -> {
      if (METHODS.contains(op.getKey())) {
        assertTrue(ids.add(op.getValue().path("operationId").asText()), "operationId " + op.getValue().path("operationId") + " is unique");
      }
    }));
  }

  private static void collectRefs(JsonNode node, java.util.List<String> refs) {
    if (node.isObject() && node.has("$ref")) {
      refs.add(node.get("$ref").asText());
    }
    node.forEach(child -> collectRefs(child, refs));
  }

  @Test
  void public_endpoints_and_only_they_need_no_token() {
    assertEquals("bearer", spec.path("security").path(0).fieldNames().next(), "bearer is the default security");
    assertEquals("http", spec.at("/components/securitySchemes/bearer/type").asText());
    assertEquals("bearer", spec.at("/components/securitySchemes/bearer/scheme").asText());
    for (Endpoint e : server.server.endpoints()) {
      JsonNode op = spec.path("paths").path("/v1" + e.path()).path(e.method().toLowerCase(Locale.ROOT));
      boolean open = op.has("security") && op.get("security").isEmpty();
      assertEquals(e.access().isPublic(), open, e.method() + " " + e.path() + ": security in openapi.json against its Access");
      if (!e.access().isPublic()) {
        assertTrue(op.path("responses").has("401"), e.method() + " " + e.path() + " describes 401");
        assertTrue(op.path("responses").has("403"), e.method() + " " + e.path() + " describes 403");
      }
    }
  }

  @Test
  void is_served_without_a_token() throws Exception {
    HttpResponse<String> r = server.as(null).get("/v1/openapi.json");
    assertEquals(200, r.statusCode());
    assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""));
    JsonNode served = ApiClient.json(r);
    assertEquals("3.1.0", served.path("openapi").asText());
    assertEquals(spec, served);
  }

  @Test
  void the_contract_check_catches_an_answer_the_description_does_not_have() {
    URI run = URI.create("http://127.0.0.1/v1/runs/0b6f3d8e-2a57-4a3b-9a51-000000000001");
    // a run without its state, an undescribed status, a problem that is not problem+json, a 200 on a route that does not exist
    assertFalse(OpenApiContract.SPEC.check(new OpenApiContract.Exchange("GET", run, null, null, 200,
        "application/json", "{\"id\":\"0b6f3d8e-2a57-4a3b-9a51-000000000001\"}", java.util.Map.of())).isEmpty());
    assertFalse(OpenApiContract.SPEC.check(new OpenApiContract.Exchange("GET", run, null, null, 418,
        "application/problem+json", "{\"type\":\"urn:reins:problem:teapot\",\"title\":\"t\",\"status\":418}", java.util.Map.of())).isEmpty());
    assertFalse(OpenApiContract.SPEC.check(new OpenApiContract.Exchange("GET", run, null, null, 404,
        "application/json", "{\"type\":\"urn:reins:problem:not-found\",\"title\":\"t\",\"status\":404}", java.util.Map.of())).isEmpty());
    assertFalse(OpenApiContract.SPEC.check(new OpenApiContract.Exchange("GET", URI.create("http://127.0.0.1/v1/nothing"), null, null, 200,
        "application/json", "{}", java.util.Map.of())).isEmpty());
    // and a request it accepted that the description refuses: an unknown field in a submit
    assertFalse(OpenApiContract.SPEC.check(new OpenApiContract.Exchange("POST", URI.create("http://127.0.0.1/v1/runs"),
        "application/json", "{\"executor\":{\"command\":[\"true\"]},\"priority\":1}", 202, "application/json", "{}", java.util.Map.of())).isEmpty());
    // while a refused request is fine as long as the refusal is described
    assertEquals(java.util.List.of(), OpenApiContract.SPEC.check(new OpenApiContract.Exchange("POST", URI.create("http://127.0.0.1/v1/runs"),
        "application/json", "{\"priority\":1}", 400, "application/problem+json",
        "{\"type\":\"urn:reins:problem:invalid-field\",\"title\":\"Invalid field\",\"status\":400,\"field\":\"priority\"}", java.util.Map.of())));
  }
}
