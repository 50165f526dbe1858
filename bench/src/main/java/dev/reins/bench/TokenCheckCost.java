package dev.reins.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.reins.persistence.auth.TokenStore;
import dev.reins.runtime.auth.RunTokens;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The CPU cost of one token check, in process, on one thread: what the server's {@code
 * Authenticator} does per request before any routing.
 *
 * <ul>
 *   <li><b>per-run token</b>: {@link RunTokens#verify} of a token issued by the same class (parse
 *       the JWT, HMAC-SHA256 over it, read the claims, check issuer and expiry);
 *   <li>for comparison, the same JWT parsed and verified with one {@code MACVerifier} kept for the
 *       key, where {@code RunTokens} makes a new one per call;
 *   <li><b>API token, cached</b>: the SHA-256 hex of the token and a lookup in a concurrent map
 *       (the {@code Authenticator}'s cache hit; a miss is one database query per node per TTL).
 * </ul>
 *
 * <p>Each is timed over {@code --iterations} calls, {@code --rounds} times after a warm-up round;
 * the median round is reported (ns per call). Not {@code wrk}: this is the check alone, without
 * HTTP, which {@code bench/run.sh} measures separately through the server.
 */
public final class TokenCheckCost {

  private static final String[][] OPTIONS = {
    {"iterations", "200000", "calls per round"},
    {"rounds", "5", "measured rounds (after one warm-up round)"},
  };

  public static void main(String[] argv) throws Exception {
    BenchSupport.Args args = new BenchSupport.Args("TokenCheckCost", argv, OPTIONS);
    int iterations = args.integer("iterations");
    int rounds = args.integer("rounds");

    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    TokenStore.SigningKey key = new TokenStore.SigningKey("bench-key", secret, Instant.now(), null);
    RunTokens runTokens = new RunTokens(() -> List.of(key), Clock.systemUTC());
    runTokens.reload();
    String jwt = runTokens.issue("0b6c3f9e-2f0a-4c36-9a43-6f1e0d8a1b2c", "default", 1, Duration.ofHours(1));
    if (runTokens.verify(jwt).isEmpty()) {
      throw new IllegalStateException("the per-run token does not verify");
    }

    byte[] raw = new byte[32];
    new SecureRandom().nextBytes(raw);
    String apiToken = TokenStore.TOKEN_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    ConcurrentHashMap<String, Optional<String>> cache = new ConcurrentHashMap<>();
    cache.put(TokenStore.sha256(apiToken), Optional.of("tok_bench"));

    double jwtNs = time("per-run token (RunTokens.verify)", iterations, rounds, () -> runTokens.verify(jwt).isPresent());
    // what verify would cost with one MACVerifier per key kept instead of one made per call
    com.nimbusds.jose.crypto.MACVerifier verifier = new com.nimbusds.jose.crypto.MACVerifier(secret);
    double jwtReuseNs = time("per-run token, one MACVerifier reused", iterations, rounds, () -> {
      try {
        com.nimbusds.jwt.SignedJWT parsed = com.nimbusds.jwt.SignedJWT.parse(jwt);
        return parsed.verify(verifier) && parsed.getJWTClaimsSet().getSubject() != null;
      } catch (java.text.ParseException | com.nimbusds.jose.JOSEException e) {
        return false;
      }
    });
    double apiNs = time("API token, cached (SHA-256 + map)", iterations, rounds,
        () -> cache.get(TokenStore.sha256(apiToken)).isPresent());

    ObjectNode out = BenchSupport.JSON.createObjectNode();
    out.put("benchmark", "token_check_cost");
    out.put("jwt_verify_ns", Math.round(jwtNs));
    out.put("jwt_verify_reused_verifier_ns", Math.round(jwtReuseNs));
    out.put("api_token_cached_ns", Math.round(apiNs));
    out.put("jwt_length", jwt.length());
    out.set("options", args.toJson());
    System.out.println(BenchSupport.JSON.writeValueAsString(out));
  }

  private static double time(String label, int iterations, int rounds, Supplier<Boolean> check) {
    double[] ns = new double[rounds];
    int ok = 0;
    for (int r = -1; r < rounds; r++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < iterations; i++) {
        if (check.get()) {
          ok++;
        }
      }
      long t = System.nanoTime() - t0;
      if (r >= 0) {
        ns[r] = (double) t / iterations;
      }
    }
    if (ok != iterations * (rounds + 1)) {
      throw new IllegalStateException(label + ": a check failed");
    }
    double[] sorted = ns.clone();
    Arrays.sort(sorted);
    double median = sorted[rounds / 2];
    System.out.printf(Locale.ROOT, "token-check: %-36s %8.0f ns per call (median of %d rounds of %d; rounds: %s)%n",
        label, median, rounds, iterations, Arrays.toString(Arrays.stream(ns).map(Math::round).toArray()));
    return median;
  }
}
