package dev.reins.runtime.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.reins.persistence.auth.TokenStore.SigningKey;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Per-run tokens: what each attempt's process gets in {@code REINS_TOKEN}. A JWT (HS256, Nimbus
 * JOSE) naming the run, its tenant and the attempt, signed with the newest key of the journal
 * database's {@code reins_signing_key} table. Checking one is a signature and an expiry check
 * against keys held in memory: no database round trip. That the attempt is still the run's
 * current one is checked by the run entity, which knows (see {@code RunAccess}).
 *
 * <p>Keys are reloaded from the database every {@code refresh} (and at once, at most once a
 * second, when a token names a key this node has not seen), so a key rotated on one node is used
 * by all within that interval.
 */
public final class RunTokens {
  public static final String ISSUER = "reins";

  /** What a valid per-run token says. */
  public record Claims(String runId, String tenant, int attempt, Instant expiresAt) {}

  private final Callable<List<SigningKey>> loader;
  private final Clock clock;
  private final Duration minReloadGap;
  private volatile Keys keys = new Keys(Map.of(), null);
  private volatile Instant lastReload = Instant.EPOCH;

  private record Keys(Map<String, SigningKey> verifying, SigningKey signing) {}

  /** @param loader every signing key, newest first (see {@code TokenStore#signingKeys}) */
  public RunTokens(Callable<List<SigningKey>> loader, Clock clock) {
    this.loader = loader;
    this.clock = clock;
    this.minReloadGap = Duration.ofSeconds(1);
  }

  /** Reads the keys again; throws when the database cannot be read (the old keys stay). */
  public synchronized void reload() throws Exception {
    List<SigningKey> all = loader.call();
    Map<String, SigningKey> verifying = all.stream()
        .filter(k -> k.retiredAt() == null)
        .collect(Collectors.toUnmodifiableMap(SigningKey::kid, Function.identity()));
    SigningKey newest = all.stream().filter(k -> k.retiredAt() == null).findFirst().orElse(null);
    keys = new Keys(verifying, newest);
    lastReload = clock.instant();
  }

  /** A token for one attempt of one run, valid for at most {@code lifetime}. */
  public String issue(String runId, String tenant, int attempt, Duration lifetime) {
    SigningKey key = keys.signing();
    if (key == null) {
      throw new IllegalStateException("no signing key loaded (the journal database has no unretired reins_signing_key)");
    }
    Instant now = clock.instant();
    JWTClaimsSet claims = new JWTClaimsSet.Builder()
        .issuer(ISSUER)
        .subject(runId)
        .claim("tenant", tenant)
        .claim("attempt", attempt)
        .issueTime(Date.from(now))
        .expirationTime(Date.from(now.plus(lifetime)))
        .build();
    SignedJWT jwt = new SignedJWT(
        new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(key.kid()).type(JOSEObjectType.JWT).build(), claims);
    try {
      jwt.sign(new MACSigner(key.secret()));
    } catch (JOSEException e) {
      throw new IllegalStateException("cannot sign a run token", e);
    }
    return jwt.serialize();
  }

  /** The claims of a token this cluster signed that has not expired; empty for anything else. */
  public Optional<Claims> verify(String token) {
    try {
      SignedJWT jwt = SignedJWT.parse(token);
      if (!JWSAlgorithm.HS256.equals(jwt.getHeader().getAlgorithm())) {
        return Optional.empty();
      }
      String kid = jwt.getHeader().getKeyID();
      SigningKey key = kid == null ? null : keys.verifying().get(kid);
      if (key == null && kid != null && reloadSoon()) {
        key = keys.verifying().get(kid);
      }
      if (key == null || !jwt.verify(new MACVerifier(key.secret()))) {
        return Optional.empty();
      }
      JWTClaimsSet c = jwt.getJWTClaimsSet();
      Date exp = c.getExpirationTime();
      Object attempt = c.getClaim("attempt");
      if (!ISSUER.equals(c.getIssuer()) || exp == null || !clock.instant().isBefore(exp.toInstant())
          || c.getSubject() == null || !(attempt instanceof Number n) || c.getStringClaim("tenant") == null) {
        return Optional.empty();
      }
      return Optional.of(new Claims(c.getSubject(), c.getStringClaim("tenant"), n.intValue(), exp.toInstant()));
    } catch (ParseException | JOSEException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** Reloads for an unknown key id, at most once per {@link #minReloadGap}; true if it reloaded. */
  private boolean reloadSoon() {
    if (Duration.between(lastReload, clock.instant()).compareTo(minReloadGap) < 0) {
      return false;
    }
    try {
      reload();
      return true;
    } catch (Exception e) {
      return false;
    }
  }
}
