package dev.reins.protocol.run;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * What a run executes. Only OS processes for now; delegations add their own kinds. The JSON
 * discriminator is {@code type}, with stable names that do not depend on class names.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({@JsonSubTypes.Type(value = ProcessSpec.class, name = "process")})
public sealed interface ExecutorSpec permits ProcessSpec {}
