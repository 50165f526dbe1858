package dev.reins.persistence;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * Creates the journal tables when they are missing. Unlike the persistence-jdbc testkit's
 * SchemaUtils, every SQL error is raised: a server must not start on a journal it cannot write.
 */
public final class JournalSchema {
  private static final int ATTEMPTS = 3;

  private JournalSchema() {}

  public static void createIfMissing(JournalDatabase db) {
    List<String> statements = statements(db.dialect().schemaResource);
    SQLException last = null;
    // Two nodes starting at once may race on CREATE ... IF NOT EXISTS in PostgreSQL (a unique
    // violation in the catalog); the loser's second pass finds everything in place.
    for (int i = 0; i < ATTEMPTS; i++) {
      try (Connection c = connect(db); Statement s = c.createStatement()) {
        c.setAutoCommit(true);
        for (String sql : statements) {
          s.execute(sql);
        }
        return;
      } catch (SQLException e) {
        last = e;
        try {
          Thread.sleep(200L * (i + 1));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    throw new IllegalStateException("could not create the journal schema in " + db + ": " + last.getMessage(), last);
  }

  static Connection connect(JournalDatabase db) throws SQLException {
    Properties p = new Properties();
    if (!db.user().isEmpty()) {
      p.setProperty("user", db.user());
    }
    if (!db.password().isEmpty()) {
      p.setProperty("password", db.password());
    }
    DriverManager.setLoginTimeout((int) Math.max(1, db.connectTimeout().toSeconds()));
    return DriverManager.getConnection(db.url(), p);
  }

  static List<String> statements(String resource) {
    try (InputStream in = JournalSchema.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("schema resource missing from the classpath: " + resource);
      }
      StringBuilder sql = new StringBuilder();
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (!line.trim().startsWith("--")) {
          sql.append(line).append('\n');
        }
      }
      List<String> out = new ArrayList<>();
      for (String statement : sql.toString().split(";")) {
        if (!statement.isBlank()) {
          out.add(statement.trim());
        }
      }
      return out;
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + resource, e);
    }
  }
}
