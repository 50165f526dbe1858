package dev.reins.deploy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.reins.persistence.Connections;
import dev.reins.persistence.JournalDatabase;
import dev.reins.persistence.JournalSchema;
import dev.reins.persistence.auth.TokenStore;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Where the credential commands find the journal database: the server's own configuration
 * ({@code REINS_DB_URL}, {@code REINS_DB_USER}, {@code REINS_DB_PASSWORD}, {@code REINS_DATA_DIR})
 * unless these flags say otherwise. They connect directly, like a migration tool, and create the
 * schema when it is missing (as a server start would), so they work before the first start. On
 * the embedded H2 database they also work while a server runs: its URL has {@code AUTO_SERVER},
 * so this JVM connects through the server's.
 */
final class JournalOptions {
  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Data directory of the embedded database (default: REINS_DATA_DIR, else ./data).")
  Path dataDir;

  @Option(names = "--db-url", paramLabel = "URL",
      description = "JDBC URL of the journal database (default: REINS_DB_URL; empty: the embedded database).")
  String dbUrl;

  /** What a command does with the store; SQL errors become a {@link Main.Failure}. */
  @FunctionalInterface
  interface StoreCall<T> {
    T call(TokenStore store) throws SQLException;
  }

  <T> T withStore(StoreCall<T> call) {
    Config config = config();
    JournalDatabase db;
    boolean createSchema;
    try {
      db = JournalDatabase.fromConfig(config);
      createSchema = config.getBoolean("reins.db.create-schema");
    } catch (ConfigException e) {
      throw invalid(e);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(command.commandLine(), e.getMessage());
    }
    try {
      if (createSchema) {
        JournalSchema.createIfMissing(db);
      }
      return call.call(new TokenStore(Connections.direct(db), clock()));
    } catch (SQLException e) {
      throw failure(db, e);
    } catch (IllegalStateException e) {
      // JournalSchema could not create the tables; the driver's reason is the cause
      throw failure(db, e.getCause() == null ? e : e.getCause());
    }
  }

  /** The database's URL redacted, and the driver's message too: some drivers quote the URL. */
  private static Main.Failure failure(JournalDatabase db, Throwable why) {
    String message = why.getMessage() == null ? why.toString() : why.getMessage();
    return new Main.Failure("cannot use the journal database " + db + ": " + JournalDatabase.redacted(message));
  }

  /** The server's configuration with the flags over it. */
  Config config() {
    Map<String, Object> flags = new HashMap<>();
    if (dataDir != null) {
      flags.put("reins.data-dir", dataDir.toString());
    }
    if (dbUrl != null) {
      flags.put("reins.db.url", dbUrl);
    }
    try {
      return ConfigFactory.parseMap(flags).withFallback(main().config());
    } catch (ConfigException e) {
      throw invalid(e);
    }
  }

  /** A duration of the configuration as people read it, e.g. {@code 10s (reins.auth.token-cache-ttl)}. */
  String setting(String key) {
    try {
      return config().getString(key) + " (" + key + ")";
    } catch (ConfigException | Main.Failure e) {
      return key;
    }
  }

  private static Main.Failure invalid(ConfigException e) {
    return new Main.Failure("the configuration is invalid: " + JournalDatabase.redacted(e.getMessage()));
  }

  Clock clock() {
    return main().clock();
  }

  private Main main() {
    return (Main) command.root().userObject();
  }
}
