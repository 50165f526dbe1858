package dev.reins.http;

import java.util.Optional;

/**
 * Where this node is in its life, for readiness: recovering the runs of its earlier life,
 * serving, or draining for a shutdown. Written by the server's start and shutdown tasks.
 */
final class NodeStatus {
  private volatile boolean recovered;
  private volatile boolean draining;

  void recovered() {
    recovered = true;
  }

  void draining() {
    draining = true;
  }

  boolean isDraining() {
    return draining;
  }

  /** Why the node is not ready, if it is not (apart from cluster membership and the journal). */
  Optional<String> notReady() {
    if (draining) {
      return Optional.of("this node is shutting down (draining)");
    }
    if (!recovered) {
      return Optional.of("this node is still resolving the runs of its earlier life");
    }
    return Optional.empty();
  }
}
