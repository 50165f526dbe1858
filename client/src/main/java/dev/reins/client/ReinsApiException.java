package dev.reins.client;

import java.time.Duration;
import java.util.Optional;

/**
 * The server answered with an error status: its RFC 9457 problem (or, for an answer that was not
 * problem+json, one made up from the status and body), and {@code Retry-After} when it said one.
 */
public final class ReinsApiException extends ReinsException {
  private static final long serialVersionUID = 1L;

  private final transient Problem problem;
  private final Duration retryAfter;

  public ReinsApiException(String request, Problem problem, Duration retryAfter) {
    super(request + ": " + problem.status() + " " + (problem.detail() != null ? problem.detail() : problem.title())
        + (problem.field() != null ? " (field " + problem.field() + ")" : ""));
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  public Problem problem() {
    return problem;
  }

  public int status() {
    return problem.status();
  }

  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }
}
