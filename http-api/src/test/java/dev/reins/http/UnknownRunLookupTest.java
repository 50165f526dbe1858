package dev.reins.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import dev.reins.persistence.Connections;
import dev.reins.persistence.JournalDatabase;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Reads do not write: a thousand requests naming runs that do not exist (read, events, logs,
 * cancel, reset) answer 404 and leave the journal as it was: no event, and no remembered entity
 * (sharding writes one for every entity it starts).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UnknownRunLookupTest {
  private static final int LOOKUPS = 1000;

  private TestServer server;
  private Connections db;
  private String known;

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start();
    db = Connections.direct(JournalDatabase.fromConfig(ConfigFactory.parseMap(Map.of(
        "reins.data-dir", server.dataDir.toString())).withFallback(ConfigFactory.load())));
    known = server.submit("[\"true\"]", null);
    server.awaitState(known, "succeeded", Duration.ofSeconds(30));
  }

  @AfterAll
  void stop() {
    server.close();
  }

  @Test
  void aThousandLookupsOfUnknownRunsLeaveTheJournalUnchanged() throws Exception {
    List<Long> before = runRows();
    List<String[]> requests = List.of(
        new String[] {"GET", ""}, new String[] {"GET", "/events"}, new String[] {"GET", "/logs"},
        new String[] {"POST", "/cancel"}, new String[] {"POST", "/reset"});
    long started = System.nanoTime();
    for (int i = 0; i < LOOKUPS; i++) {
      String[] request = requests.get(i % requests.size());
      String path = "/v1/runs/" + UUID.randomUUID() + request[1];
      HttpResponse<String> r = server.send(request[0], path, null);
      assertEquals(404, r.statusCode(), request[0] + " " + path + " -> " + r.body());
    }
    long unknownNanos = System.nanoTime() - started;

    // and from 8 clients at once
    started = System.nanoTime();
    java.util.List<java.util.concurrent.CompletableFuture<Void>> clients = new java.util.ArrayList<>();
    for (int c = 0; c < 8; c++) {
      clients.add(java.util.concurrent.CompletableFuture.runAsync(() -> {
        for (int i = 0; i < LOOKUPS / 8; i++) {
          try {
            HttpResponse<String> r = server.get("/v1/runs/" + UUID.randomUUID());
            assertEquals(404, r.statusCode(), r.body());
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        }
      }));
    }
    clients.forEach(java.util.concurrent.CompletableFuture::join);
    long concurrentNanos = System.nanoTime() - started;
    assertEquals(before, runRows(), "the journal's run events and remembered entities (rows, newest ordering)");

    // for the record (not asserted): the existence check against a known run's cached owner
    started = System.nanoTime();
    for (int i = 0; i < LOOKUPS; i++) {
      assertEquals(200, server.get("/v1/runs/" + known).statusCode());
    }
    long knownNanos = System.nanoTime() - started;

    // the existence check alone, the way Runs makes it (one JDBC row) against a Persistence Query
    // stream of the same row, alternating so that both see the same load
    dev.reins.persistence.RunJournal journal = new dev.reins.persistence.RunJournal(server.server.system());
    long jdbcNanos = 0;
    long queryNanos = 0;
    for (int i = 0; i < LOOKUPS; i++) {
      String id = UUID.randomUUID().toString();
      long t = System.nanoTime();
      assertEquals(java.util.Optional.empty(), journal.firstEvent(id).toCompletableFuture().get());
      jdbcNanos += System.nanoTime() - t;
      t = System.nanoTime();
      assertEquals(List.of(), journal.envelopes(id, 1).toCompletableFuture().get());
      queryNanos += System.nanoTime() - t;
    }
    System.out.printf("existence check of an unknown id: %.2f ms (JDBC row), %.2f ms (Persistence Query stream)%n",
        jdbcNanos / 1e6 / LOOKUPS, queryNanos / 1e6 / LOOKUPS);
    System.out.printf("unknown-id lookups: %d in %d ms (%.0f/s, %.2f ms each); from 8 clients: %.0f/s; "
            + "known run GETs: %d in %d ms (%.0f/s)%n",
        LOOKUPS, unknownNanos / 1_000_000, LOOKUPS * 1e9 / unknownNanos, unknownNanos / 1e6 / LOOKUPS,
        (LOOKUPS / 8 * 8) * 1e9 / concurrentNanos, LOOKUPS, knownNanos / 1_000_000, LOOKUPS * 1e9 / knownNanos);
  }

  /**
   * Rows of runs and of the run entities' sharding (remembered entities, coordinator), and the
   * newest ordering among them. Other writers (the projections' own sharding) are not looked at.
   */
  private List<Long> runRows() throws Exception {
    try (Connection c = db.open(); Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT COUNT(*), COALESCE(MAX(\"ordering\"), 0) FROM \"event_journal\" "
            + "WHERE \"persistence_id\" LIKE 'Run|%' OR \"persistence_id\" LIKE '/sharding/Run%'")) {
      r.next();
      return List.of(r.getLong(1), r.getLong(2));
    }
  }
}
