package dev.reins.protocol.run;

import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationStatus;
import java.time.Instant;

/**
 * A delegation as its run knows it: what was asked, and {@code status} {@code pending} until the
 * delegation reported its end (the delegation's own journal has the details).
 */
public record RunDelegation(String id, DelegationSpec spec, Instant deadline, DelegationStatus status, Instant requestedAt) {
  public boolean live() {
    return !status.isTerminal();
  }
}
