package dev.reins.protocol.run;

/**
 * How often a run is attempted. {@code maxAttempts = 1} means no retry. A failed attempt (non-zero
 * exit, start failure, lost worker) is retried as attempt n+1 after {@code backoffSeconds} while
 * attempts remain.
 */
public record RetryPolicy(int maxAttempts, long backoffSeconds) {
  public static final RetryPolicy NONE = new RetryPolicy(1, 1);

  public boolean allowsAnotherAfter(int attempt) {
    return attempt < maxAttempts;
  }
}
