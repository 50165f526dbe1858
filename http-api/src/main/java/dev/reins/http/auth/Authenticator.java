package dev.reins.http.auth;

import dev.reins.persistence.JournalHealth;
import dev.reins.persistence.auth.TokenStore;
import dev.reins.protocol.auth.Scope;
import dev.reins.protocol.auth.Tenants;
import dev.reins.runtime.auth.RunTokens;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/**
 * Turns a bearer token into a {@link Caller}. Per-run tokens (JWTs) are checked in memory. API
 * tokens are looked up by their SHA-256 in the token table and the answer is kept for {@code
 * cacheTtl}, so a token costs one database query per node per TTL; a revocation therefore takes
 * effect on every node within that time (at once on the node that revoked it). Unknown tokens are
 * cached too, in a bounded map, so a flood of made-up tokens costs no more than a flood of real
 * ones. While the database is known to be down, a token that is not in the cache fails at once
 * (503) instead of waiting for a connection.
 */
public final class Authenticator {
  private final TokenStore store;
  private final RunTokens runTokens;
  private final byte[] envAdminHash;
  private final Executor blocking;
  private final Clock clock;
  private final Duration cacheTtl;
  private final int cacheMax;
  private final JournalHealth database;
  private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();

  private record Cached(Optional<TokenStore.ApiToken> token, Instant loadedAt) {}

  /**
   * @param envAdminToken the value of {@code REINS_ADMIN_TOKEN}, or empty
   * @param blocking where the token table is queried (JDBC blocks)
   * @param database the health of the database the token table is in (the journal's)
   */
  public Authenticator(
      TokenStore store, RunTokens runTokens, String envAdminToken, Executor blocking, Clock clock, Duration cacheTtl, int cacheMax,
      JournalHealth database) {
    this.store = store;
    this.runTokens = runTokens;
    this.envAdminHash = envAdminToken == null || envAdminToken.isEmpty() ? null : sha256(envAdminToken);
    this.blocking = blocking;
    this.clock = clock;
    this.cacheTtl = cacheTtl;
    this.cacheMax = cacheMax;
    this.database = database;
  }

  /** The caller, or empty when the token is unknown, expired or revoked; fails if the database does. */
  public CompletionStage<Optional<Caller>> authenticate(String token) {
    if (token == null || token.isEmpty()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    if (envAdminHash != null && MessageDigest.isEqual(envAdminHash, sha256(token))) {
      return CompletableFuture.completedFuture(Optional.of(
          new Caller.ApiCaller("env", "REINS_ADMIN_TOKEN", Tenants.DEFAULT, EnumSet.of(Scope.ADMIN))));
    }
    if (!token.startsWith(TokenStore.TOKEN_PREFIX)) {
      return CompletableFuture.completedFuture(runTokens.verify(token)
          .map(c -> new Caller.RunCaller(c.runId(), c.tenant(), c.attempt())));
    }
    String hash = TokenStore.sha256(token);
    Instant now = clock.instant();
    Cached cached = cache.get(hash);
    if (cached != null && now.isBefore(cached.loadedAt().plus(cacheTtl))) {
      return CompletableFuture.completedFuture(toCaller(cached.token(), now));
    }
    return database.guard(() -> CompletableFuture.supplyAsync(() -> {
      try {
        Optional<TokenStore.ApiToken> found = store.findBySecret(token);
        if (cache.size() >= cacheMax) {
          cache.clear(); // bounded: the next requests simply look their tokens up again
        }
        cache.put(hash, new Cached(found, clock.instant()));
        return toCaller(found, clock.instant());
      } catch (Exception e) {
        throw new CompletionException(new TokenStoreUnavailable(e));
      }
    }, blocking));
  }

  /** Forgets what this node knows of a token (after it was revoked here). */
  public void forget(String tokenId) {
    cache.values().removeIf(c -> c.token().map(t -> t.id().equals(tokenId)).orElse(false));
  }

  private static Optional<Caller> toCaller(Optional<TokenStore.ApiToken> token, Instant now) {
    return token.filter(t -> t.usableAt(now))
        .map(t -> new Caller.ApiCaller(t.id(), t.name(), t.tenant(), t.scopes()));
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** The token table could not be read: the request gets a 503, not a 401. */
  public static final class TokenStoreUnavailable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TokenStoreUnavailable(Throwable cause) {
      super("the token database does not answer: " + cause.getMessage(), cause);
    }
  }
}
