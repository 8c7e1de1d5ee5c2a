/* empty_layer: stands in for a layer folder that has no code yet, so the
 * build of the other layers never depends on it. */
typedef int empty_layer_is_not_empty;
