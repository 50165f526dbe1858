package dev.reins.protocol.api;

import java.util.List;
import java.util.Set;

/** {@code GET /v1/cluster}: the members as the answering node sees them, and each node's worker slots. */
public record ClusterView(String self, String leader, List<Member> members) {
  public ClusterView {
    members = members == null ? List.of() : List.copyOf(members);
  }

  /** One member; {@code slots} is null for a node whose capacity this node has not heard yet. */
  public record Member(String address, String status, Set<String> roles, boolean reachable, boolean self, Slots slots) {
    public Member {
      roles = roles == null ? Set.of() : java.util.Collections.unmodifiableSortedSet(new java.util.TreeSet<>(roles));
    }
  }

  public record Slots(int total, int busy, int queued, boolean draining) {}
}
