package dev.reins.http;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The global feed on PostgreSQL, where concurrent inserts commit out of ordering order for real
 * (a BIGSERIAL hands out numbers before the commits), from {@code REINS_TEST_JDBC_URL}; skipped
 * with a message without it. Each run uses a fresh schema, dropped afterwards.
 */
class EventFeedPostgresTest {
  @Test
  void pagesHoldEveryEventOnceWhileRunsAreWrittenOnPostgres() throws Exception {
    String url = System.getenv("REINS_TEST_JDBC_URL");
    Assumptions.assumeTrue(url != null && !url.isBlank(),
        "PostgreSQL feed test skipped: REINS_TEST_JDBC_URL is not set (e.g. jdbc:postgresql://127.0.0.1:5432/test?user=postgres)");
    String schema = "reins_feed_" + UUID.randomUUID().toString().replace("-", "");
    execute(url, "CREATE SCHEMA " + schema);
    try (TestServer server = TestServer.start(Map.of(
        "reins.db.url", url + (url.contains("?") ? "&" : "?") + "currentSchema=" + schema))) {
      EventFeedTest.pagesHoldEveryEventOnceWhileRunsAreWritten(server);
    } finally {
      execute(url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }
  }

  private static void execute(String url, String sql) throws Exception {
    try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}
