package dev.reins.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** {@code GET /v1/runs}: the run list read model, its filters, its pages, and its rebuild (on H2; {@link RunListPostgresTest} on PostgreSQL). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RunListTest {
  private static final Duration PATIENCE = Duration.ofSeconds(60);

  private TestServer server;
  private final List<String> teamA = new ArrayList<>();
  private final List<String> teamB = new ArrayList<>();
  private Instant before;

  /** The server's extra configuration (the journal database); H2 here. */
  protected Map<String, Object> database() throws Exception {
    return Map.of();
  }

  protected void dropDatabase() {}

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start(database());
    before = Instant.now();
    for (int i = 0; i < 6; i++) {
      teamA.add(server.submit("[\"true\"]", "\"labels\":{\"team\":\"a\",\"n\":\"" + i + "\"}"));
      teamB.add(server.submit("[\"false\"]", "\"labels\":{\"team\":\"b\"},\"retry\":{\"maxAttempts\":1}"));
    }
    for (String id : teamA) {
      server.awaitState(id, "succeeded", PATIENCE);
    }
    for (String id : teamB) {
      server.awaitState(id, "failed", PATIENCE);
    }
    awaitListed(teamA, "succeeded");
    awaitListed(teamB, "failed");
  }

  @AfterAll
  void stop() {
    try {
      if (server != null) { // null: the class was skipped before a server started (no PostgreSQL)
        server.close();
      }
    } finally {
      dropDatabase();
    }
  }

  @Test
  void theListShowsEachRunAsItsOwnGetDoes() throws Exception {
    for (String id : concat(teamA, teamB)) {
      JsonNode run = TestServer.json(server.get("/v1/runs/" + id));
      JsonNode row = listed().get(id);
      assertEquals(run.get("state").asText(), row.get("state").asText(), id);
      assertEquals(run.get("attempt").asInt(), row.get("attempt").asInt(), id);
      assertEquals(run.get("version").asLong(), row.get("version").asLong(), id);
      assertEquals(run.get("labels"), row.get("labels"), id);
      assertEquals(Instant.parse(run.get("createdAt").asText()), Instant.parse(row.get("createdAt").asText()), id);
      assertEquals("default", row.get("tenant").asText());
    }
  }

  @Test
  void filtersByStateLabelAndCreationTime() throws Exception {
    assertEquals(Set.copyOf(teamA), ids(page("state=succeeded&label=team:a&limit=1000")));
    assertEquals(Set.copyOf(teamB), ids(page("state=failed&label=team:b&limit=1000")));
    assertEquals(Set.of(teamA.get(2)), ids(page("label=team:a&label=n:2")));
    assertEquals(Set.of(), ids(page("state=running&label=team:a")));
    Instant afterFirst = Instant.parse(TestServer.json(server.get("/v1/runs/" + teamA.get(5))).get("createdAt").asText());
    Set<String> later = ids(page("label=team:a&createdAfter=" + afterFirst.minusNanos(1000)));
    assertEquals(Set.of(teamA.get(5)), later);
    assertTrue(ids(page("createdAfter=" + before.minusSeconds(1) + "&limit=1000")).containsAll(concat(teamA, teamB)));
  }

  @Test
  void anotherTenantListsNoneOfTheseRuns() throws Exception {
    ApiClient other = server.as(server.createToken("list-other", "runs:read").get("token").asText());
    HttpResponse<String> r = other.get("/v1/runs?limit=1000");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(0, TestServer.json(r).get("runs").size());
  }

  /**
   * Paging with small pages while runs are created: every run that existed when paging began is
   * seen exactly once, in creation order, and no run is seen twice.
   */
  @Test
  void pagesSkipNothingAndRepeatNothingWhileRunsAreCreated() throws Exception {
    Set<String> existing = ids(page("limit=1000"));
    List<String> created = new ArrayList<>();
    CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
      try {
        for (int i = 0; i < 8; i++) {
          created.add(server.submit("[\"true\"]", "\"labels\":{\"team\":\"c\"}"));
        }
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    List<String> seen = new ArrayList<>();
    String cursor = null;
    Instant lastCreated = Instant.MIN;
    do {
      JsonNode page = page("limit=3" + (cursor == null ? "" : "&cursor=" + cursor));
      for (JsonNode run : page.get("runs")) {
        seen.add(run.get("id").asText());
        Instant at = Instant.parse(run.get("createdAt").asText());
        assertFalse(at.isBefore(lastCreated), "pages are in creation order");
        lastCreated = at;
      }
      cursor = page.hasNonNull("next") ? page.get("next").asText() : null;
    } while (cursor != null);
    writer.join();
    assertEquals(seen.size(), new HashSet<>(seen).size(), "a run was listed twice: " + seen);
    assertTrue(seen.containsAll(existing), "a run that existed before paging was skipped");
    for (String id : created) {
      server.awaitState(id, "succeeded", PATIENCE);
    }
    awaitListed(created, "succeeded");
  }

  @Test
  void badParametersAre400NamingThem() throws Exception {
    Map<String, String> bad = new LinkedHashMap<>();
    bad.put("state=bogus", "state");
    bad.put("limit=0", "limit");
    bad.put("limit=1001", "limit");
    bad.put("limit=ten", "limit");
    bad.put("cursor=not-a-cursor", "cursor");
    bad.put("label=nocolon", "label");
    bad.put("parentRunId=x", "parentRunId");
    bad.put("createdAfter=yesterday", "createdAfter");
    bad.put("sort=desc", "sort");
    bad.put("state=running&state=failed", "state");
    for (Map.Entry<String, String> e : bad.entrySet()) {
      HttpResponse<String> r = server.get("/v1/runs?" + e.getKey());
      assertEquals(400, r.statusCode(), e.getKey() + " -> " + r.body());
      assertTrue(r.body().contains("\"" + e.getValue() + "\""), e.getKey() + " -> " + r.body());
    }
  }

  /** A rebuild from offset zero, while the server runs, ends with the same table, and the lag shows it catching up. */
  @Test
  void aRebuildProducesTheSameList() throws Exception {
    awaitCaughtUp();
    Map<String, JsonNode> before = listed();
    HttpResponse<String> r = server.post("/v1/admin/projections/runs/rebuild", null);
    assertEquals(202, r.statusCode(), r.body());
    TestServer.awaitAssert(PATIENCE, () -> {
      assertCaughtUp();
      assertEquals(before, listed());
    });
    JsonNode projections = TestServer.json(server.get("/v1/admin/projections")).get("projections");
    assertEquals("runs", projections.get(0).get("name").asText());
    assertEquals(8, projections.get(0).get("slices").size());
  }

  @Test
  void onlyOperatorsSeeOrRebuildTheProjections() throws Exception {
    ApiClient otherAdmin = server.as(server.createToken("list-admin", "admin").get("token").asText());
    assertEquals(403, otherAdmin.get("/v1/admin/projections").statusCode());
    assertEquals(403, otherAdmin.post("/v1/admin/projections/runs/rebuild", null).statusCode());
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private void awaitCaughtUp() {
    TestServer.awaitAssert(PATIENCE, this::assertCaughtUp);
  }

  private void assertCaughtUp() throws Exception {
    HttpResponse<String> r = server.get("/v1/admin/projections");
    assertEquals(200, r.statusCode(), r.body());
    JsonNode runs = TestServer.json(r).get("projections").get(0);
    assertEquals(0, runs.get("pendingEvents").asLong(), r.body());
    for (JsonNode slice : runs.get("slices")) {
      assertNull(slice.get("oldestPendingAt"), r.body());
    }
  }

  private void awaitListed(List<String> ids, String state) {
    TestServer.awaitAssert(PATIENCE, () -> {
      Map<String, JsonNode> all = listed();
      for (String id : ids) {
        assertTrue(all.containsKey(id), id + " is not listed");
        assertEquals(state, all.get(id).get("state").asText(), id);
      }
    });
  }

  /** Every run of the default tenant, by id, read page by page. */
  private Map<String, JsonNode> listed() throws Exception {
    Map<String, JsonNode> all = new LinkedHashMap<>();
    String cursor = null;
    do {
      JsonNode page = page("limit=7" + (cursor == null ? "" : "&cursor=" + cursor));
      page.get("runs").forEach(run -> all.put(run.get("id").asText(), run));
      cursor = page.hasNonNull("next") ? page.get("next").asText() : null;
    } while (cursor != null);
    return all;
  }

  private JsonNode page(String query) throws Exception {
    HttpResponse<String> r = server.get("/v1/runs?" + query.replace("+", URLEncoder.encode("+", StandardCharsets.UTF_8)));
    assertEquals(200, r.statusCode(), query + " -> " + r.body());
    return TestServer.json(r);
  }

  private static Set<String> ids(JsonNode page) {
    Set<String> ids = new HashSet<>();
    page.get("runs").forEach(run -> ids.add(run.get("id").asText()));
    return ids;
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }
}
