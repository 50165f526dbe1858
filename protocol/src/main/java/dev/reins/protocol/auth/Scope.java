package dev.reins.protocol.auth;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Optional;

/**
 * What an API token may do. {@code admin} manages tokens and implies every other scope, within
 * the token's own tenant (an admin of tenant A sees only A's runs and A's tokens). The default
 * tenant's admins are the operators: they also manage the tokens of every other tenant.
 */
public enum Scope {
  RUNS_READ("runs:read"),
  RUNS_SUBMIT("runs:submit"),
  RUNS_CANCEL("runs:cancel"),
  RUNS_RESET("runs:reset"),
  DELEGATIONS_WRITE("delegations:write"),
  /** Scrape {@code /metrics} (a Prometheus scraper's token; only the default tenant's count). */
  METRICS_READ("metrics:read"),
  ADMIN("admin");

  private final String json;

  Scope(String json) {
    this.json = json;
  }

  @JsonValue
  public String json() {
    return json;
  }

  public static Optional<Scope> parse(String value) {
    return Arrays.stream(values()).filter(s -> s.json.equals(value)).findFirst();
  }

  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  public static Scope fromJson(String value) {
    return parse(value).orElseThrow(() -> new IllegalArgumentException(
        "unknown scope '" + value + "' (known: runs:read, runs:submit, runs:cancel, runs:reset, delegations:write, metrics:read, admin)"));
  }
}
