package dev.reins.http;

import dev.reins.persistence.TestDatabases;
import dev.reins.persistence.TestDatabases.TestDatabase;
import java.nio.file.Files;
import java.util.Map;

/** {@link RunListTest} on a fresh PostgreSQL schema (skipped without PostgreSQL). */
class RunListPostgresTest extends RunListTest {
  private TestDatabase db;

  @Override
  protected Map<String, Object> database() throws Exception {
    db = TestDatabases.fresh(TestDatabases.Backend.POSTGRES, Files.createTempDirectory("reins-runlist-pg-"));
    return Map.of("reins.db.url", db.journal().url(), "reins.db.user", db.journal().user(),
        "reins.db.password", db.journal().password());
  }

  @Override
  protected void dropDatabase() {
    if (db != null) {
      db.close();
    }
  }
}
