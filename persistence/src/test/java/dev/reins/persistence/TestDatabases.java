package dev.reins.persistence;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.PostgreSQLContainer;

/**
 * The journal databases the persistence tests run against: an H2 file database in a temporary
 * directory, and PostgreSQL from {@code REINS_TEST_JDBC_URL} when it is set, else from
 * Testcontainers when a Docker engine is present. Without either, PostgreSQL tests are skipped
 * with a message that says so, never silently passed.
 *
 * <p>Every {@link #fresh} PostgreSQL database is a new schema (put first on the search path with
 * {@code currentSchema}), so a test starts from an empty database and repeated runs against a
 * shared server do not see each other's tables or rows.
 */
public final class TestDatabases {
  static final String URL_ENV = "REINS_TEST_JDBC_URL";
  static final String USER_ENV = "REINS_TEST_JDBC_USER";
  static final String PASSWORD_ENV = "REINS_TEST_JDBC_PASSWORD";
  static final String POSTGRES_IMAGE = "postgres:16-alpine";

  public enum Backend {
    H2,
    POSTGRES
  }

  /** Where a PostgreSQL server for tests is. */
  public record PostgresServer(String url, String user, String password) {}

  private static Optional<PostgresServer> postgres;

  private TestDatabases() {}

  /** The PostgreSQL server for tests, if any: the env variable first, then Testcontainers. */
  public static synchronized Optional<PostgresServer> postgres() {
    if (postgres == null) {
      postgres = findPostgres();
    }
    return postgres;
  }

  /** The PostgreSQL server for tests; aborts (skips) the calling test when there is none. */
  public static PostgresServer requirePostgres() {
    Optional<PostgresServer> server = postgres();
    Assumptions.assumeTrue(
        server.isPresent(),
        "PostgreSQL tests skipped: " + URL_ENV + " is not set and no Docker engine is available for"
            + " Testcontainers (e.g. " + URL_ENV + "=jdbc:postgresql://127.0.0.1:5432/test?user=postgres)");
    return server.get();
  }

  private static Optional<PostgresServer> findPostgres() {
    String url = System.getenv(URL_ENV);
    if (url != null && !url.isBlank()) {
      Map<String, String> query = queryParameters(url);
      String user = firstNonBlank(System.getenv(USER_ENV), query.get("user"), "");
      String password = firstNonBlank(System.getenv(PASSWORD_ENV), query.get("password"), "");
      return Optional.of(new PostgresServer(url.trim(), user, password));
    }
    if (!DockerClientFactory.instance().isDockerAvailable()) {
      return Optional.empty();
    }
    // Started once per JVM; Testcontainers' reaper removes it when the JVM exits.
    PostgreSQLContainer<?> container = new PostgreSQLContainer<>(POSTGRES_IMAGE);
    container.start();
    return Optional.of(new PostgresServer(container.getJdbcUrl(), container.getUsername(), container.getPassword()));
  }

  /** A new, empty journal database of the given kind; close it to drop a PostgreSQL schema. */
  public static TestDatabase fresh(Backend backend, Path tempDir) {
    return switch (backend) {
      case H2 -> new TestDatabase(JournalDatabase.fromConfig(config(tempDir, "", "", "")), null);
      case POSTGRES -> {
        PostgresServer server = requirePostgres();
        String schema = "reins_test_" + UUID.randomUUID().toString().replace("-", "");
        JournalDatabase admin = JournalDatabase.fromConfig(config(tempDir, server.url(), server.user(), server.password()));
        execute(admin, "CREATE SCHEMA " + schema);
        String url = server.url() + (server.url().contains("?") ? "&" : "?") + "currentSchema=" + schema;
        yield new TestDatabase(
            JournalDatabase.fromConfig(config(tempDir, url, server.user(), server.password())),
            () -> execute(admin, "DROP SCHEMA IF EXISTS " + schema + " CASCADE"));
      }
    };
  }

  /** {@code reins.*} over the module's reference.conf, as the server would read it. */
  public static Config config(Path dataDir, String url, String user, String password) {
    Map<String, Object> reins = new HashMap<>();
    reins.put("reins.data-dir", dataDir.toString());
    reins.put("reins.db.url", url);
    reins.put("reins.db.user", user);
    reins.put("reins.db.password", password);
    reins.put("reins.db.connect-timeout", "5s");
    reins.put("reins.db.max-connections", 4);
    return ConfigFactory.parseMap(reins).withFallback(ConfigFactory.load()).resolve();
  }

  static void execute(JournalDatabase db, String sql) {
    try (Connection c = JournalSchema.connect(db); Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + " failed on " + db + ": " + e.getMessage(), e);
    }
  }

  private static Map<String, String> queryParameters(String url) {
    Map<String, String> out = new HashMap<>();
    int q = url.indexOf('?');
    if (q < 0) {
      return out;
    }
    for (String pair : url.substring(q + 1).split("&")) {
      int eq = pair.indexOf('=');
      if (eq > 0) {
        out.put(pair.substring(0, eq).toLowerCase(Locale.ROOT),
            URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    return out;
  }

  private static String firstNonBlank(String... values) {
    for (String v : values) {
      if (v != null && !v.isBlank()) {
        return v;
      }
    }
    return "";
  }

  /** A journal database owned by one test (class); {@link #close} drops what it created. */
  public record TestDatabase(JournalDatabase journal, Runnable drop) implements AutoCloseable {
    @Override
    public void close() {
      if (drop != null) {
        drop.run();
      }
    }
  }
}
