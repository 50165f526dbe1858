package dev.reins.persistence;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.h2.engine.SysProperties;

/**
 * The journal database chosen by {@code reins.db}: embedded H2 under the data directory when no
 * URL is set, PostgreSQL for a {@code jdbc:postgresql:} URL. It renders the Slick settings that
 * the three pekko-persistence-jdbc plugins share.
 */
public record JournalDatabase(
    Dialect dialect, String url, String user, String password, int maxConnections, Duration connectTimeout) {

  /**
   * Where H2's auto-server listens. AUTO_SERVER=TRUE opens a TCP port so that a second JVM (the
   * token tool, a backup) can use the file while the server runs, and H2 binds it to every
   * interface unless the system property {@code h2.bindAddress} names one. H2 reads that property
   * once, when {@code org.h2.engine.SysProperties} initialises (NetUtils binds with it and writes
   * it, as {@code localhost}, into the lock file the second JVM reads), so it is set here, before
   * Reins opens any H2 connection. An operator's own {@code -Dh2.bindAddress} wins.
   */
  public static final String H2_BIND_ADDRESS_PROPERTY = "h2.bindAddress";

  static {
    if (System.getProperty(H2_BIND_ADDRESS_PROPERTY) == null) {
      System.setProperty(H2_BIND_ADDRESS_PROPERTY, "127.0.0.1");
    }
  }

  public enum Dialect {
    H2("slick.jdbc.H2Profile$", "org.h2.Driver", "reins/schema/h2.sql", "h2-dialect"),
    POSTGRES("slick.jdbc.PostgresProfile$", "org.postgresql.Driver", "reins/schema/postgres.sql", "postgres-dialect");

    final String slickProfile;
    final String driver;
    final String schemaResource;
    /** pekko-projection-jdbc's name for it (its offset store's SQL). */
    final String projectionDialect;

    Dialect(String slickProfile, String driver, String schemaResource, String projectionDialect) {
      this.slickProfile = slickProfile;
      this.driver = driver;
      this.schemaResource = schemaResource;
      this.projectionDialect = projectionDialect;
    }
  }

  /** Reads {@code reins.db} and {@code reins.data-dir} from a resolved configuration. */
  public static JournalDatabase fromConfig(Config config) {
    Config db = config.getConfig("reins.db");
    String url = db.getString("url").trim();
    Dialect dialect;
    if (url.isEmpty()) {
      // H2 2.x wants an explicit path; an absolute one keeps the file where the operator pointed,
      // whatever the working directory of a later start. AUTO_SERVER lets a second JVM (a backup or
      // inspection tool) open the same file while the server runs.
      Path file = dataDir(config).resolve("journal").resolve("reins");
      url = "jdbc:h2:file:" + file + ";AUTO_SERVER=TRUE";
      dialect = Dialect.H2;
    } else if (url.startsWith("jdbc:postgresql:")) {
      dialect = Dialect.POSTGRES;
    } else if (url.startsWith("jdbc:h2:")) {
      dialect = Dialect.H2;
    } else {
      throw new IllegalArgumentException(
          "reins.db.url (REINS_DB_URL) must be a jdbc:postgresql: or jdbc:h2: URL, or empty for the embedded database; got "
              + redacted(url));
    }
    if (dialect == Dialect.H2) {
      checkH2BindAddress();
    }
    if (dialect == Dialect.H2 && !url.toUpperCase(java.util.Locale.ROOT).contains("WRITE_DELAY")) {
      // H2 writes committed transactions to its file up to 500 ms later by default: a crash of the
      // server (SIGKILL, OOM) would lose runs that were already accepted. Write at each commit.
      url += ";WRITE_DELAY=0";
    }
    return new JournalDatabase(
        dialect,
        url,
        db.getString("user"),
        db.getString("password"),
        db.getInt("max-connections"),
        db.getDuration("connect-timeout"));
  }

  /**
   * Fails when H2 initialised before this class could set {@link #H2_BIND_ADDRESS_PROPERTY} (some
   * other code opened an H2 database first): its auto-server would listen on every interface.
   */
  private static void checkH2BindAddress() {
    String wanted = System.getProperty(H2_BIND_ADDRESS_PROPERTY);
    if (!Objects.equals(wanted, SysProperties.BIND_ADDRESS)) {
      throw new IllegalStateException("H2 was initialised before Reins set -D" + H2_BIND_ADDRESS_PROPERTY + "=" + wanted
          + " (it uses " + SysProperties.BIND_ADDRESS + "): its auto-server would not listen where configured");
    }
  }

  public static Path dataDir(Config config) {
    return Path.of(config.getString("reins.data-dir")).toAbsolutePath().normalize();
  }

  /** The Slick database shared by the journal, snapshot store and read journal, and the projections' dialect. */
  public Config pekkoConfig() {
    Map<String, Object> db = new HashMap<>();
    db.put("url", url);
    db.put("user", user);
    db.put("password", password);
    db.put("driver", dialect.driver);
    db.put("numThreads", maxConnections);
    db.put("maxConnections", maxConnections);
    db.put("minConnections", Math.min(2, maxConnections));
    db.put("connectionTimeout", connectTimeout.toMillis());
    return ConfigFactory.empty()
        .withValue("pekko-persistence-jdbc.shared-databases.reins.profile",
            ConfigValueFactory.fromAnyRef(dialect.slickProfile))
        .withValue("pekko-persistence-jdbc.shared-databases.reins.db", ConfigValueFactory.fromMap(db))
        .withValue("pekko.projection.jdbc.dialect", ConfigValueFactory.fromAnyRef(dialect.projectionDialect));
  }

  @Override
  public String toString() {
    return "JournalDatabase[" + dialect + " " + redacted(url) + "]";
  }

  /**
   * The URL as it may appear in logs and errors: a {@code password=} parameter (any case, also
   * {@code sslpassword}) and the password of a {@code //user:password@host} part are masked. The
   * second form is what a libpq-style URL pasted into REINS_DB_URL by mistake looks like.
   */
  public static String redacted(String url) {
    return url.replaceAll("(?i)(password=)[^&;]*", "$1***")
        .replaceAll("(//[^/?#;:@]*:)[^/?#;]*@", "$1***@");
  }
}
