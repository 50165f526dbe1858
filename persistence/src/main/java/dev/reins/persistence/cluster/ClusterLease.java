package dev.reins.persistence.cluster;

import dev.reins.persistence.Connections;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;

/**
 * One journal, one cluster. Event sourcing needs a single writer per run; Pekko guarantees that
 * within one cluster, not between two clusters that happen to share a database (three servers
 * started without seed nodes each form their own). The cluster writing a journal holds this lease:
 * its oldest node renews it every few seconds with the cluster's members (unique addresses, which
 * change with every restart of a node). A node that finds a fresh lease naming none of its own
 * cluster's members has found another cluster alive on the database and must not write.
 *
 * <p>Times are the nodes' clocks: keep them in sync (NTP) to well within the lease's lifetime.
 */
public final class ClusterLease {
  private final Connections connections;

  public ClusterLease(Connections connections) {
    this.connections = connections;
  }

  /** The lease as last written: members, the node that wrote it, until when it holds. */
  public record Held(Set<String> members, String holder, Instant renewedAt, Instant expiresAt) {
    public Held {
      members = Set.copyOf(members);
    }

    public boolean freshAt(Instant now) {
      return now.isBefore(expiresAt);
    }
  }

  /** What a node may do with the lease, given its own cluster. */
  public enum Verdict {
    /** no lease, or it lapsed: this cluster takes it */
    FREE,
    /** held by this cluster (some member in common) */
    OURS,
    /** held only by earlier lives of this very node (it restarted in place): take it over */
    OUR_EARLIER_LIFE,
    /** fresh and held by a cluster with no member in common: another cluster writes this journal */
    FOREIGN
  }

  /**
   * @param ourMembers unique addresses ({@code pekko://reins@host:port#uid}) of this cluster's members
   * @param selfAddress this node's address without uid ({@code pekko://reins@host:port})
   */
  public static Verdict judge(Optional<Held> lease, Set<String> ourMembers, String selfAddress, Instant now) {
    if (lease.isEmpty() || !lease.get().freshAt(now)) {
      return Verdict.FREE;
    }
    Held held = lease.get();
    if (held.members().stream().anyMatch(ourMembers::contains)) {
      return Verdict.OURS;
    }
    if (!held.members().isEmpty() && held.members().stream().allMatch(m -> withoutUid(m).equals(selfAddress))) {
      // the address is this node's and it is bound here now: the lease's holder is dead
      return Verdict.OUR_EARLIER_LIFE;
    }
    return Verdict.FOREIGN;
  }

  static String withoutUid(String uniqueAddress) {
    int hash = uniqueAddress.lastIndexOf('#');
    return hash < 0 ? uniqueAddress : uniqueAddress.substring(0, hash);
  }

  public Optional<Held> read() throws SQLException {
    try (Connection c = connections.open();
        PreparedStatement s = c.prepareStatement("SELECT members, holder, renewed_at, expires_at FROM reins_cluster_lease WHERE id = 1");
        ResultSet rs = s.executeQuery()) {
      return rs.next() ? Optional.of(held(rs)) : Optional.empty();
    }
  }

  /**
   * Writes the lease for this cluster unless a fresh lease of another cluster is in the way (the
   * judgement and the write in one transaction, the row locked). Returns the verdict it acted on.
   */
  public Verdict renew(Set<String> ourMembers, String selfAddress, String holder, Instant now, Duration ttl) throws SQLException {
    try (Connection c = connections.open()) {
      c.setAutoCommit(false);
      try {
        Optional<Held> current = lockedRow(c);
        if (current.isEmpty()) {
          try (PreparedStatement insert = c.prepareStatement(
              "INSERT INTO reins_cluster_lease (id, members, holder, renewed_at, expires_at) VALUES (1, ?, ?, ?, ?)")) {
            bind(insert, ourMembers, holder, now, ttl);
            insert.executeUpdate();
          }
          c.commit();
          return Verdict.FREE;
        }
        Verdict verdict = judge(current, ourMembers, selfAddress, now);
        if (verdict != Verdict.FOREIGN) {
          try (PreparedStatement update = c.prepareStatement(
              "UPDATE reins_cluster_lease SET members = ?, holder = ?, renewed_at = ?, expires_at = ? WHERE id = 1")) {
            bind(update, ourMembers, holder, now, ttl);
            update.executeUpdate();
          }
        }
        c.commit();
        return verdict;
      } catch (SQLException e) {
        c.rollback();
        throw e;
      }
    }
  }

  /** Lets the lease lapse at once, if this cluster holds it (the last node leaving). */
  public void release(Set<String> ourMembers, String selfAddress, Instant now) throws SQLException {
    try (Connection c = connections.open()) {
      c.setAutoCommit(false);
      try {
        Optional<Held> current = lockedRow(c);
        Verdict verdict = judge(current, ourMembers, selfAddress, now);
        if (verdict == Verdict.OURS) {
          try (PreparedStatement update = c.prepareStatement("UPDATE reins_cluster_lease SET expires_at = ? WHERE id = 1")) {
            update.setLong(1, now.toEpochMilli());
            update.executeUpdate();
          }
        }
        c.commit();
      } catch (SQLException e) {
        c.rollback();
        throw e;
      }
    }
  }

  private static Optional<Held> lockedRow(Connection c) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(
            "SELECT members, holder, renewed_at, expires_at FROM reins_cluster_lease WHERE id = 1 FOR UPDATE");
        ResultSet rs = s.executeQuery()) {
      return rs.next() ? Optional.of(held(rs)) : Optional.empty();
    }
  }

  private static void bind(PreparedStatement s, Set<String> members, String holder, Instant now, Duration ttl) throws SQLException {
    s.setString(1, String.join(" ", members));
    s.setString(2, holder);
    s.setLong(3, now.toEpochMilli());
    s.setLong(4, now.plus(ttl).toEpochMilli());
  }

  private static Held held(ResultSet rs) throws SQLException {
    Set<String> members = new LinkedHashSet<>(Arrays.asList(rs.getString(1).trim().split(" ")));
    members.remove("");
    return new Held(members, rs.getString(2), Instant.ofEpochMilli(rs.getLong(3)), Instant.ofEpochMilli(rs.getLong(4)));
  }
}
