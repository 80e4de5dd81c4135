/* Keeps a library with no sources yet valid. */
typedef int runnel_empty_translation_unit;
