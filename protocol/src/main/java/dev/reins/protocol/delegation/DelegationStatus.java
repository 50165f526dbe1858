package dev.reins.protocol.delegation;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** The states of a delegation, as they appear in JSON. */
public enum DelegationStatus {
  PENDING,
  WORKING,
  COMPLETED,
  FAILED,
  TIMED_OUT,
  CANCELLED;

  public boolean isTerminal() {
    return this != PENDING && this != WORKING;
  }

  @JsonValue
  public String json() {
    return name().toLowerCase(Locale.ROOT);
  }

  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  public static DelegationStatus fromJson(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }
}
