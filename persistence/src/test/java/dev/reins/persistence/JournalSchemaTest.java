package dev.reins.persistence;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.reins.persistence.TestDatabases.Backend;
import dev.reins.persistence.TestDatabases.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class JournalSchemaTest {
  private static final Set<String> TABLES = Set.of("event_journal", "event_tag", "snapshot");

  @TempDir Path tempDir;

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void createsTheJournalTablesOnAnEmptyDatabase(Backend backend) throws Exception {
    try (TestDatabase db = TestDatabases.fresh(backend, tempDir)) {
      assertEquals(Set.of(), journalTables(db.journal()), "a fresh database has no journal tables");

      JournalSchema.createIfMissing(db.journal());

      assertEquals(TABLES, journalTables(db.journal()));
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void runsAgainAtEveryStartWithoutTouchingTheJournal(Backend backend) throws Exception {
    try (TestDatabase db = TestDatabases.fresh(backend, tempDir)) {
      JournalSchema.createIfMissing(db.journal());
      JournalSchema.createIfMissing(db.journal());
      insertEvent(db.journal(), "Run|kept", 1);

      JournalSchema.createIfMissing(db.journal());

      assertEquals(TABLES, journalTables(db.journal()));
      assertEquals(1, countEvents(db.journal(), "Run|kept"), "an existing journal row survives a restart");
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void acceptsADatabaseSetUpWithThePluginsOwnScript(Backend backend) throws Exception {
    try (TestDatabase db = TestDatabases.fresh(backend, tempDir)) {
      runPluginScript(db.journal());
      insertEvent(db.journal(), "Run|by-operator", 1);

      JournalSchema.createIfMissing(db.journal());

      assertEquals(1, countEvents(db.journal(), "Run|by-operator"));
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void createsTheSameTablesAsThePluginsOwnScript(Backend backend) throws Exception {
    try (TestDatabase ours = TestDatabases.fresh(backend, tempDir.resolve("ours"));
        TestDatabase plugins = TestDatabases.fresh(backend, tempDir.resolve("plugin"))) {
      JournalSchema.createIfMissing(ours.journal());
      runPluginScript(plugins.journal());

      // Our copy of the DDL is re-runnable; the columns the plugin's DAOs read and write must not drift.
      assertEquals(columns(plugins.journal()), columns(ours.journal()));
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void nodesStartingAtTheSameTimeAllGetTheSchema(Backend backend) throws Exception {
    int nodes = 4;
    ExecutorService pool = Executors.newFixedThreadPool(nodes);
    try (TestDatabase db = TestDatabases.fresh(backend, tempDir)) {
      CountDownLatch go = new CountDownLatch(1);
      List<CompletableFuture<Void>> starts = new ArrayList<>();
      for (int i = 0; i < nodes; i++) {
        starts.add(CompletableFuture.runAsync(() -> {
          awaitQuietly(go);
          JournalSchema.createIfMissing(db.journal());
        }, pool));
      }
      go.countDown();
      CompletableFuture.allOf(starts.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);

      assertEquals(TABLES, journalTables(db.journal()));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void anUnreachableDatabaseFailsLoudlyAndNamesTheDatabase() {
    JournalDatabase db = JournalDatabase.fromConfig(
        TestDatabases.config(tempDir, "jdbc:postgresql://127.0.0.1:1/nope?user=reins&password=s3cret", "reins", "")
            .withValue("reins.db.connect-timeout", ConfigValueFactory.fromAnyRef("1s")));

    IllegalStateException e = assertThrows(IllegalStateException.class, () -> JournalSchema.createIfMissing(db));

    assertAll(
        () -> assertTrue(e.getMessage().contains("jdbc:postgresql://127.0.0.1:1/nope"), e.getMessage()),
        () -> assertFalse(e.getMessage().contains("s3cret"), e.getMessage()),
        () -> assertTrue(e.getCause() instanceof SQLException, "the driver's error is kept as the cause"));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "postgres://reins:s3cret@db:5432/reins",
      "postgresql://reins:s3cret@db/reins?sslmode=require",
      "postgresql://reins:p@ss-s3cret@db/reins",
      "mysql://db/reins?user=reins&password=s3cret",
      "jdbc:mysql://db/reins?user=reins&PASSWORD=s3cret",
      "jdbc:sqlserver://db;databaseName=reins;user=reins;password=s3cret"})
  void rejectsAUrlThatIsNotAJournalJdbcUrlWithoutEchoingItsPassword(String url) {
    IllegalArgumentException e = assertThrows(
        IllegalArgumentException.class,
        () -> JournalDatabase.fromConfig(TestDatabases.config(tempDir, url, "", "")));

    assertAll(
        () -> assertTrue(e.getMessage().contains("reins.db.url"), e.getMessage()),
        () -> assertTrue(e.getMessage().contains("jdbc:postgresql:"), e.getMessage()),
        () -> assertFalse(e.getMessage().contains("s3cret"), e.getMessage()));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "jdbc:postgresql://db:5432/reins?user=reins&password=s3cret",
      "jdbc:postgresql://db:5432/reins?password=s3cret&user=reins",
      "jdbc:postgresql://db:5432/reins?sslmode=verify-full&sslpassword=s3cret",
      "jdbc:h2:file:/var/lib/reins/journal;USER=sa;PASSWORD=s3cret"})
  void neverShowsAPasswordWhenItNamesTheDatabase(String url) {
    JournalDatabase db = JournalDatabase.fromConfig(TestDatabases.config(tempDir, url, "", ""));

    assertFalse(db.toString().contains("s3cret"), db.toString());
    assertTrue(db.toString().contains("reins"), db.toString());
  }

  @Test
  void anEmptyUrlMeansAnEmbeddedH2FileUnderTheDataDirectory() {
    JournalDatabase db = JournalDatabase.fromConfig(
        ConfigFactory.parseString("reins.data-dir = \"" + tempDir.resolve("data") + "\"")
            .withFallback(ConfigFactory.load()));

    assertEquals(JournalDatabase.Dialect.H2, db.dialect());
    // WRITE_DELAY=0: a commit is in the file before the server replies, so a SIGKILL loses nothing
    assertEquals("jdbc:h2:file:" + tempDir.resolve("data/journal/reins") + ";AUTO_SERVER=TRUE;WRITE_DELAY=0", db.url());
  }

  @Test
  void anH2UrlOfTheOperatorsOwnAlsoWritesAtEachCommitUnlessItSaysOtherwise() {
    assertEquals("jdbc:h2:file:/x/y;WRITE_DELAY=0",
        JournalDatabase.fromConfig(ConfigFactory.parseString("reins.db.url = \"jdbc:h2:file:/x/y\"").withFallback(ConfigFactory.load())).url());
    assertEquals("jdbc:h2:file:/x/y;write_delay=100",
        JournalDatabase.fromConfig(ConfigFactory.parseString("reins.db.url = \"jdbc:h2:file:/x/y;write_delay=100\"").withFallback(ConfigFactory.load())).url());
  }

  @Test
  void aPostgresUrlSelectsPostgres() {
    JournalDatabase db = JournalDatabase.fromConfig(
        TestDatabases.config(tempDir, " jdbc:postgresql://db:5432/reins ", "reins", "pw"));

    assertEquals(JournalDatabase.Dialect.POSTGRES, db.dialect());
    assertEquals("jdbc:postgresql://db:5432/reins", db.url());
    assertEquals("slick.jdbc.PostgresProfile$", db.pekkoConfig().getString("pekko-persistence-jdbc.shared-databases.reins.profile"));
  }

  /** The journal tables present in the connection's current schema. */
  static Set<String> journalTables(JournalDatabase db) throws SQLException {
    Set<String> out = new TreeSet<>();
    try (Connection c = JournalSchema.connect(db);
        ResultSet rs = c.getMetaData().getTables(null, c.getSchema(), "%", new String[] {"TABLE"})) {
      while (rs.next()) {
        String name = rs.getString("TABLE_NAME");
        if (TABLES.contains(name)) {
          out.add(name);
        }
      }
    }
    return out;
  }

  private static TreeMap<String, String> columns(JournalDatabase db) throws SQLException {
    TreeMap<String, String> out = new TreeMap<>();
    try (Connection c = JournalSchema.connect(db)) {
      DatabaseMetaData meta = c.getMetaData();
      try (ResultSet rs = meta.getColumns(null, c.getSchema(), "%", "%")) {
        while (rs.next()) {
          if (TABLES.contains(rs.getString("TABLE_NAME"))) {
            out.put(rs.getString("TABLE_NAME") + "." + rs.getString("COLUMN_NAME"),
                rs.getString("TYPE_NAME") + (rs.getInt("NULLABLE") == DatabaseMetaData.columnNoNulls ? " not null" : ""));
          }
        }
      }
    }
    return out;
  }

  /**
   * The plugin's create-schema script from its jar, without the durable-state tables Reins does
   * not use, and (PostgreSQL) placed in the test's schema rather than {@code public}.
   */
  private static void runPluginScript(JournalDatabase db) throws SQLException {
    String resource = switch (db.dialect()) {
      case H2 -> "schema/h2/h2-create-schema.sql";
      case POSTGRES -> "schema/postgres/postgres-create-schema.sql";
    };
    try (Connection c = JournalSchema.connect(db); Statement s = c.createStatement()) {
      for (String sql : JournalSchema.statements(resource)) {
        if (sql.contains("durable_state") || sql.contains("global_offset_seq")) {
          continue;
        }
        if (db.dialect() == JournalDatabase.Dialect.POSTGRES) {
          sql = sql.replace("public.", "").replace("CONCURRENTLY ", "");
        }
        s.execute(sql);
      }
    }
  }

  static void insertEvent(JournalDatabase db, String persistenceId, long seq) throws SQLException {
    String sql = "INSERT INTO \"event_journal\" (\"persistence_id\", \"sequence_number\", \"writer\","
        + " \"write_timestamp\", \"adapter_manifest\", \"event_payload\", \"event_ser_id\", \"event_ser_manifest\")"
        + " VALUES (?, ?, 'test', 0, '', ?, 7311, '')";
    try (Connection c = JournalSchema.connect(db); PreparedStatement s = c.prepareStatement(sql)) {
      s.setString(1, persistenceId);
      s.setLong(2, seq);
      s.setBytes(3, "{}".getBytes(StandardCharsets.UTF_8));
      s.executeUpdate();
    }
  }

  static int countEvents(JournalDatabase db, String persistenceId) throws SQLException {
    try (Connection c = JournalSchema.connect(db);
        PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM \"event_journal\" WHERE \"persistence_id\" = ?")) {
      s.setString(1, persistenceId);
      try (ResultSet rs = s.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
