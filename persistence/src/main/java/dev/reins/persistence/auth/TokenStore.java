package dev.reins.persistence.auth;

import dev.reins.persistence.Connections;
import dev.reins.protocol.api.TokenView;
import dev.reins.protocol.auth.Scope;
import dev.reins.protocol.auth.Tenants;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * API tokens and the keys that sign per-run tokens, in the journal database so that every node of
 * a cluster knows them. A token is 256 random bits; only its SHA-256 is stored (a token that
 * random needs no slow hash: nothing can be guessed from the digest). Blocking JDBC: callers run
 * it off the actor threads.
 */
public final class TokenStore {
  /** Every token starts with this, so that a leaked one is easy to recognise (and to redact). */
  public static final String TOKEN_PREFIX = "reins_";

  /** The id of the admin token a first start creates; fixed, so two nodes cannot both create one. */
  public static final String BOOTSTRAP_ID = "bootstrap-admin";

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String COLUMNS = "id, name, tenant, scopes, created_at, expires_at, revoked_at";

  private final Connections connections;
  private final Clock clock;

  public TokenStore(Connections connections, Clock clock) {
    this.connections = connections;
    this.clock = clock;
  }

  /** A token as listed: never its secret. */
  public record ApiToken(
      String id, String name, String tenant, Set<Scope> scopes, Instant createdAt, Instant expiresAt, Instant revokedAt) {
    public ApiToken {
      scopes = scopes.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(scopes));
    }

    public boolean usableAt(Instant now) {
      return revokedAt == null && (expiresAt == null || now.isBefore(expiresAt));
    }

    /** As the admin API and {@code reins tokens} show it; {@code secret} only in the answer that created it. */
    public TokenView view(String secret) {
      return new TokenView(id, name, tenant, scopes.stream().sorted().map(Scope::json).toList(),
          createdAt, expiresAt, revokedAt, secret);
    }
  }

  /** A token just created, with the secret that is shown this once. */
  public record Issued(ApiToken token, String secret) {}

  public record SigningKey(String kid, byte[] secret, Instant createdAt, Instant retiredAt) {}

  // ---- API tokens -----------------------------------------------------------------------------

  public Issued create(String name, String tenant, Set<Scope> scopes, Instant expiresAt) throws SQLException {
    return insert("tok_" + randomId(), name, tenant, scopes, expiresAt)
        .orElseThrow(() -> new SQLException("token id collision"));
  }

  /**
   * The admin token of a first start: created only while no token exists at all. Empty when a
   * token exists (or another node created the bootstrap token at the same moment).
   */
  public Optional<Issued> createBootstrapAdmin() throws SQLException {
    if (countTokens() > 0) {
      return Optional.empty();
    }
    return insert(BOOTSTRAP_ID, "bootstrap admin", Tenants.DEFAULT, EnumSet.of(Scope.ADMIN), null);
  }

  private Optional<Issued> insert(String id, String name, String tenant, Set<Scope> scopes, Instant expiresAt)
      throws SQLException {
    validate(name, tenant, scopes);
    String secret = TOKEN_PREFIX + base64(32);
    Instant now = clock.instant();
    try (Connection c = connections.open();
        PreparedStatement s = c.prepareStatement(
            "INSERT INTO reins_api_token (id, name, tenant, scopes, secret_sha256, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
      s.setString(1, id);
      s.setString(2, name);
      s.setString(3, tenant);
      s.setString(4, joinScopes(scopes));
      s.setString(5, sha256(secret));
      s.setLong(6, now.toEpochMilli());
      if (expiresAt == null) {
        s.setNull(7, Types.BIGINT);
      } else {
        s.setLong(7, expiresAt.toEpochMilli());
      }
      s.executeUpdate();
    } catch (SQLException e) {
      if (isUniqueViolation(e)) {
        return Optional.empty();
      }
      throw e;
    }
    return Optional.of(new Issued(new ApiToken(id, name, tenant, scopes, truncate(now), expiresAt == null ? null : truncate(expiresAt), null), secret));
  }

  /** The token with this secret, whatever its state (the caller checks {@link ApiToken#usableAt}). */
  public Optional<ApiToken> findBySecret(String secret) throws SQLException {
    if (secret == null || !secret.startsWith(TOKEN_PREFIX)) {
      return Optional.empty();
    }
    try (Connection c = connections.open();
        PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM reins_api_token WHERE secret_sha256 = ?")) {
      s.setString(1, sha256(secret));
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() ? Optional.of(read(rs)) : Optional.empty();
      }
    }
  }

  public List<ApiToken> list() throws SQLException {
    try (Connection c = connections.open();
        PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM reins_api_token ORDER BY created_at, id");
        ResultSet rs = s.executeQuery()) {
      List<ApiToken> out = new ArrayList<>();
      while (rs.next()) {
        out.add(read(rs));
      }
      return out;
    }
  }

  public Optional<ApiToken> get(String id) throws SQLException {
    try (Connection c = connections.open();
        PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM reins_api_token WHERE id = ?")) {
      s.setString(1, id);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() ? Optional.of(read(rs)) : Optional.empty();
      }
    }
  }

  /** Revokes the token (idempotent: a revoked token keeps its first revocation time). */
  public Optional<ApiToken> revoke(String id) throws SQLException {
    try (Connection c = connections.open();
        PreparedStatement s = c.prepareStatement("UPDATE reins_api_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")) {
      s.setLong(1, clock.instant().toEpochMilli());
      s.setString(2, id);
      s.executeUpdate();
    }
    return get(id);
  }

  public long countTokens() throws SQLException {
    try (Connection c = connections.open();
        PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM reins_api_token");
        ResultSet rs = s.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  // ---- signing keys ---------------------------------------------------------------------------

  /** Every key, newest first. */
  public List<SigningKey> signingKeys() throws SQLException {
    try (Connection c = connections.open();
        PreparedStatement s = c.prepareStatement(
            "SELECT kid, secret, created_at, retired_at FROM reins_signing_key ORDER BY created_at DESC, kid DESC");
        ResultSet rs = s.executeQuery()) {
      List<SigningKey> out = new ArrayList<>();
      while (rs.next()) {
        out.add(new SigningKey(rs.getString(1), Base64.getDecoder().decode(rs.getString(2)),
            Instant.ofEpochMilli(rs.getLong(3)), millis(rs, 4)));
      }
      return out;
    }
  }

  /** Adds a new signing key; nodes sign with it once they have reloaded their keys. */
  public SigningKey rotateSigningKey() throws SQLException {
    String kid = "k_" + randomId();
    byte[] secret = new byte[32];
    RANDOM.nextBytes(secret);
    Instant now = clock.instant();
    try (Connection c = connections.open();
        PreparedStatement s = c.prepareStatement("INSERT INTO reins_signing_key (kid, secret, created_at) VALUES (?, ?, ?)")) {
      s.setString(1, kid);
      s.setString(2, Base64.getEncoder().encodeToString(secret));
      s.setLong(3, now.toEpochMilli());
      s.executeUpdate();
    }
    return new SigningKey(kid, secret, truncate(now), null);
  }

  /** Creates a first signing key when there is no usable one. */
  public void ensureSigningKey() throws SQLException {
    if (signingKeys().stream().noneMatch(k -> k.retiredAt() == null)) {
      rotateSigningKey();
    }
  }

  /** Stops the key from verifying tokens; false if there is no such unretired key. */
  public boolean retireSigningKey(String kid) throws SQLException {
    try (Connection c = connections.open();
        PreparedStatement s = c.prepareStatement("UPDATE reins_signing_key SET retired_at = ? WHERE kid = ? AND retired_at IS NULL")) {
      s.setLong(1, clock.instant().toEpochMilli());
      s.setString(2, kid);
      return s.executeUpdate() == 1;
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  public static String sha256(String secret) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  /** Why a token with these attributes cannot be created, as an IllegalArgumentException. */
  public static void validate(String name, String tenant, Set<Scope> scopes) {
    if (name == null || name.isBlank() || name.length() > 200) {
      throw new IllegalArgumentException("name: 1 to 200 characters");
    }
    if (!Tenants.isValid(tenant)) {
      throw new IllegalArgumentException("tenant: lower-case letters, digits, '.', '_' or '-', 1 to 63 characters");
    }
    if (scopes == null || scopes.isEmpty()) {
      throw new IllegalArgumentException("scopes: at least one scope");
    }
  }

  private static ApiToken read(ResultSet rs) throws SQLException {
    Set<Scope> scopes = EnumSet.noneOf(Scope.class);
    for (String s : rs.getString(4).split(" ")) {
      Scope.parse(s).ifPresent(scopes::add);
    }
    return new ApiToken(rs.getString(1), rs.getString(2), rs.getString(3), scopes,
        Instant.ofEpochMilli(rs.getLong(5)), millis(rs, 6), millis(rs, 7));
  }

  private static Instant millis(ResultSet rs, int column) throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? null : Instant.ofEpochMilli(v);
  }

  private static String joinScopes(Set<Scope> scopes) {
    return EnumSet.copyOf(scopes).stream().map(Scope::json).collect(Collectors.joining(" "));
  }

  private static Instant truncate(Instant t) {
    return Instant.ofEpochMilli(t.toEpochMilli());
  }

  private static String randomId() {
    return base64(12);
  }

  private static String base64(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static boolean isUniqueViolation(SQLException e) {
    // PostgreSQL 23505, H2 23505 (duplicate key) and the SQL standard's integrity class 23
    return e.getSQLState() != null && e.getSQLState().startsWith("23");
  }
}
