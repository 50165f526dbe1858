package dev.reins.http;

import static dev.reins.http.ApiErrorsTest.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code /v1/admin/tokens}: create, list, read and revoke API tokens; the secret is shown once and
 * never again; mistakes are problems naming the field; an admin of one tenant cannot reach
 * another's tokens (or it could give itself the other tenant's runs).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdminApiTest {
  private TestServer server;

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  void stop() {
    server.close();
  }

  @Test
  void aCreatedTokenIsShownOnceWithItsSecretAndWorksAtOnce() throws Exception {
    HttpResponse<String> r = server.post("/v1/admin/tokens", "{\"name\":\"ci\",\"scopes\":[\"runs:submit\",\"runs:read\"]}");
    assertEquals(201, r.statusCode(), r.body());
    JsonNode created = TestServer.json(r);
    String id = created.get("id").asText();
    String secret = created.get("token").asText();
    assertEquals(server.uri("/v1/admin/tokens/" + id).toString(), r.headers().firstValue("Location").orElse(null), "an absolute Location");
    assertEquals("ci", created.get("name").asText());
    assertEquals("default", created.get("tenant").asText(), "the admin's own tenant when none is given");
    assertEquals(List.of("runs:read", "runs:submit"), strings(created.get("scopes")));
    assertTrue(created.has("createdAt"));
    assertFalse(created.has("expiresAt"));
    assertFalse(created.has("revokedAt"));
    assertTrue(secret.startsWith("reins_") && secret.length() > 40, secret);

    // it works, with the scopes it was given and no others
    ApiClient client = server.as(secret);
    String run = client.submit("[\"true\"]", null);
    assertEquals(200, client.get("/v1/runs/" + run).statusCode());
    assertProblem(client.post("/v1/runs/" + run + "/cancel", null), 403, "forbidden", null);
    assertProblem(client.get("/v1/admin/tokens"), 403, "forbidden", null);

    // the secret was shown once: neither the list nor the token's own page nor a revocation shows it
    HttpResponse<String> list = server.get("/v1/admin/tokens");
    assertEquals(200, list.statusCode());
    JsonNode listed = byId(TestServer.json(list), id);
    assertEquals("ci", listed.get("name").asText());
    assertFalse(listed.has("token"), "a listed token has no secret");
    assertFalse(list.body().contains(secret), "the list shows a secret");
    HttpResponse<String> one = server.get("/v1/admin/tokens/" + id);
    assertEquals(200, one.statusCode(), one.body());
    assertEquals(id, TestServer.json(one).get("id").asText());
    assertFalse(one.body().contains(secret), "the token's page shows its secret");
    HttpResponse<String> revoked = server.send("DELETE", "/v1/admin/tokens/" + id, null);
    assertFalse(revoked.body().contains(secret), "the revocation shows the secret");
    server.awaitState(run, "succeeded", java.time.Duration.ofSeconds(30));
  }

  @Test
  void aTokenForAnotherTenantSeesOnlyThatTenantsRuns() throws Exception {
    ApiClient acme = server.as(server.createToken("acme", "runs:submit", "runs:read").get("token").asText());
    String acmeRun = acme.submit("[\"true\"]", null);
    assertEquals("acme", TestServer.json(acme.get("/v1/runs/" + acmeRun)).get("tenant").asText());
    assertProblem(server.get("/v1/runs/" + acmeRun), 404, "not-found", null);
    String defaultRun = server.submit("[\"true\"]", null);
    assertProblem(acme.get("/v1/runs/" + defaultRun), 404, "not-found", null);

    // an idempotency key belongs to its tenant: the same key and body elsewhere is another run
    String keyed = server.submit("[\"true\"]", "\"idempotencyKey\":\"nightly\"");
    String acmeKeyed = acme.submit("[\"true\"]", "\"idempotencyKey\":\"nightly\"");
    assertNotEquals(keyed, acmeKeyed);
    assertEquals("acme", TestServer.json(acme.get("/v1/runs/" + acmeKeyed)).get("tenant").asText());
  }

  @Test
  void aRevokedTokenIsListedAsRevokedAndRevokingAgainChangesNothing() throws Exception {
    JsonNode created = server.createToken(null, "runs:read");
    String id = created.get("id").asText();
    HttpResponse<String> first = server.send("DELETE", "/v1/admin/tokens/" + id, null);
    assertEquals(200, first.statusCode(), first.body());
    String revokedAt = TestServer.json(first).get("revokedAt").asText();
    assertFalse(revokedAt.isEmpty());

    HttpResponse<String> again = server.send("DELETE", "/v1/admin/tokens/" + id, null);
    assertEquals(200, again.statusCode(), again.body());
    assertEquals(revokedAt, TestServer.json(again).get("revokedAt").asText(), "the first revocation time stays");
    assertEquals(revokedAt, byId(TestServer.json(server.get("/v1/admin/tokens")), id).get("revokedAt").asText());
    assertProblem(server.as(created.get("token").asText()).get("/v1/admin/tokens"), 401, "unauthorized", null);
  }

  @Test
  void anUnknownTokenIdIsA404() throws Exception {
    assertProblem(server.send("DELETE", "/v1/admin/tokens/tok_nope", null), 404, "not-found", null);
    assertProblem(server.get("/v1/admin/tokens/tok_nope"), 404, "not-found", null);
  }

  static Stream<Arguments> badCreations() {
    return Stream.of(
        Arguments.of("an unknown scope", "{\"name\":\"n\",\"scopes\":[\"runs:delete\"]}", "invalid-field", "scopes[0]"),
        Arguments.of("an unknown second scope", "{\"name\":\"n\",\"scopes\":[\"runs:read\",\"root\"]}", "invalid-field", "scopes[1]"),
        Arguments.of("a scope that is not a string", "{\"name\":\"n\",\"scopes\":[1]}", "invalid-field", "scopes[0]"),
        Arguments.of("no scopes", "{\"name\":\"n\",\"scopes\":[]}", "invalid-field", "scopes"),
        Arguments.of("scopes missing", "{\"name\":\"n\"}", "invalid-field", "scopes"),
        Arguments.of("an upper-case tenant", "{\"name\":\"n\",\"tenant\":\"Acme\",\"scopes\":[\"runs:read\"]}", "invalid-field", "tenant"),
        Arguments.of("a tenant with a space", "{\"name\":\"n\",\"tenant\":\"a b\",\"scopes\":[\"runs:read\"]}", "invalid-field", "tenant"),
        Arguments.of("an empty tenant", "{\"name\":\"n\",\"tenant\":\"\",\"scopes\":[\"runs:read\"]}", "invalid-field", "tenant"),
        Arguments.of("a tenant of 64 characters", "{\"name\":\"n\",\"tenant\":\"" + "t".repeat(64) + "\",\"scopes\":[\"runs:read\"]}",
            "invalid-field", "tenant"),
        Arguments.of("expiresAt in the past", "{\"name\":\"n\",\"scopes\":[\"runs:read\"],\"expiresAt\":\"2020-01-01T00:00:00Z\"}",
            "invalid-field", "expiresAt"),
        Arguments.of("expiresAt past what a database stores", "{\"name\":\"n\",\"scopes\":[\"runs:read\"],"
            + "\"expiresAt\":\"+1000000000-12-31T23:59:59Z\"}", "invalid-field", "expiresAt"),
        Arguments.of("expiresAt not a time", "{\"name\":\"n\",\"scopes\":[\"runs:read\"],\"expiresAt\":\"tomorrow\"}",
            "invalid-field", "expiresAt"),
        Arguments.of("no name", "{\"scopes\":[\"runs:read\"]}", "invalid-field", "name"),
        Arguments.of("a blank name", "{\"name\":\" \",\"scopes\":[\"runs:read\"]}", "invalid-field", "name"),
        Arguments.of("an unknown field", "{\"name\":\"n\",\"scopes\":[\"runs:read\"],\"admin\":true}", "invalid-field", "admin"),
        Arguments.of("no body", "", "invalid-field", "name"),
        Arguments.of("a JSON null", "null", "invalid-field", "name"),
        Arguments.of("not JSON", "{\"name\":", "malformed-json", null));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badCreations")
  void aBadCreationIsA400NamingTheFieldAndCreatesNothing(String name, String body, String kind, String field) throws Exception {
    int before = TestServer.json(server.get("/v1/admin/tokens")).size();
    assertProblem(server.post("/v1/admin/tokens", body), 400, kind, field);
    assertEquals(before, TestServer.json(server.get("/v1/admin/tokens")).size(), "a token was created");
  }

  @Test
  void anAdminOfAnotherTenantManagesOnlyItsOwnTenantsTokens() throws Exception {
    ApiClient acmeAdmin = server.as(server.createToken("acme-ops", "admin").get("token").asText());
    JsonNode defaultToken = server.createToken(null, "runs:read");
    String defaultId = defaultToken.get("id").asText();

    // it creates tokens of its own tenant (the default when it names none)...
    HttpResponse<String> own = acmeAdmin.post("/v1/admin/tokens", "{\"name\":\"acme ci\",\"scopes\":[\"runs:submit\"]}");
    assertEquals(201, own.statusCode(), own.body());
    assertEquals("acme-ops", TestServer.json(own).get("tenant").asText());
    String ownId = TestServer.json(own).get("id").asText();

    // ...but none of another tenant, which would give it that tenant's runs
    int before = TestServer.json(server.get("/v1/admin/tokens")).size();
    for (String tenant : new String[] {"default", "other"}) {
      assertProblem(acmeAdmin.post("/v1/admin/tokens", "{\"name\":\"x\",\"tenant\":\"" + tenant + "\",\"scopes\":[\"admin\"]}"),
          403, "forbidden", null);
    }
    assertEquals(before, TestServer.json(server.get("/v1/admin/tokens")).size(), "a token was created");

    // it lists only its tenant's tokens, and another tenant's token is not found, as another tenant's run
    List<String> listed = new ArrayList<>();
    TestServer.json(acmeAdmin.get("/v1/admin/tokens")).forEach(t -> listed.add(t.get("tenant").asText()));
    assertFalse(listed.isEmpty());
    assertEquals(List.of(), listed.stream().filter(t -> !t.equals("acme-ops")).toList(), "tenants of the tokens listed");
    assertProblem(acmeAdmin.get("/v1/admin/tokens/" + defaultId), 404, "not-found", null);
    assertProblem(acmeAdmin.send("DELETE", "/v1/admin/tokens/" + defaultId, null), 404, "not-found", null);
    assertFalse(byId(TestServer.json(server.get("/v1/admin/tokens")), defaultId).has("revokedAt"), "revoked by another tenant");
    assertEquals(200, server.as(defaultToken.get("token").asText()).get("/v1/health/ready").statusCode());

    // its own it may revoke; the operators (default tenant's admins) see and manage every tenant's
    assertEquals(200, acmeAdmin.send("DELETE", "/v1/admin/tokens/" + ownId, null).statusCode());
    assertEquals("acme-ops", TestServer.json(server.get("/v1/admin/tokens/" + ownId)).get("tenant").asText());
  }

  @Test
  void aTokenBodyThatIsNotJsonIsA415() throws Exception {
    HttpResponse<String> r = server.send("POST", "/v1/admin/tokens", "text/plain",
        "{\"name\":\"n\",\"scopes\":[\"admin\"]}", Map.of());
    assertProblem(r, 415, "unsupported-media-type", null);
  }

  @Test
  void anExpiringTokenShowsItsExpiry() throws Exception {
    Instant at = Instant.parse("2999-01-01T00:00:00Z");
    JsonNode created = server.createToken("acme", List.of("runs:read"), at);
    assertEquals(at, Instant.parse(created.get("expiresAt").asText()));
    assertEquals("acme", created.get("tenant").asText());
    JsonNode listed = byId(TestServer.json(server.get("/v1/admin/tokens")), created.get("id").asText());
    assertEquals(at, Instant.parse(listed.get("expiresAt").asText()));
    assertFalse(listed.has("token"), "a listed token has no secret");
  }

  private static JsonNode byId(JsonNode list, String id) {
    for (JsonNode t : list) {
      if (t.get("id").asText().equals(id)) {
        return t;
      }
    }
    throw new AssertionError("token " + id + " is not listed: " + list);
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}
