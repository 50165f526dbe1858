package dev.reins.protocol.api;

/** Optional body of {@code POST /v1/runs/{id}/reset}. */
public record ResetRequest(Integer attempt) {
  public static final ResetRequest EMPTY = new ResetRequest(null);
}
