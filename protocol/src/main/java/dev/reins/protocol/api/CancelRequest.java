package dev.reins.protocol.api;

/** Optional body of {@code POST /v1/runs/{id}/cancel}. */
public record CancelRequest(String reason, Integer attempt) {
  public static final CancelRequest EMPTY = new CancelRequest(null, null);
}
