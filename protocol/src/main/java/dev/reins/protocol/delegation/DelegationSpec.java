package dev.reins.protocol.delegation;

/**
 * Everything a client asked for when it created a delegation, with defaults applied; two requests
 * with the same idempotency key are compared on this value.
 *
 * @param onParentEnd what happens to the delegation when its run ends otherwise than by a cancel
 */
public record DelegationSpec(DelegationTarget target, long timeoutSeconds, OnParentEnd onParentEnd, String idempotencyKey) {

  public enum OnParentEnd {
    /** cancel the delegation when its run reaches any terminal state */
    CANCEL,
    /** let it run on; only a cancel of the run (or of the delegation) stops it */
    ABANDON;

    @com.fasterxml.jackson.annotation.JsonValue
    public String json() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    @com.fasterxml.jackson.annotation.JsonCreator(mode = com.fasterxml.jackson.annotation.JsonCreator.Mode.DELEGATING)
    public static OnParentEnd fromJson(String value) {
      return valueOf(value.toUpperCase(java.util.Locale.ROOT));
    }
  }
}
