/*
 * Replays a libFuzzer corpus through a harness without libFuzzer: built with the normal
 * compiler and linked with one tests/fuzz/fuzz_<name>.c, it feeds every regular file of
 * each directory (or each file) named on the command line to LLVMFuzzerTestOneInput, so
 * committed corpora run as ordinary ctest tests in both builds. Fails when a corpus is
 * missing or empty (a replay of nothing proves nothing).
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { REPLAY_FILE_SIZE_MAX = 1 << 20, REPLAY_PATH_SIZE_MAX = 4096 };

static uint8_t replay_buffer[REPLAY_FILE_SIZE_MAX];

/* Runs one file; returns 0, or -1 when it cannot be read. */
static int replay_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t size = fread(replay_buffer, 1, sizeof(replay_buffer), file);
    int failed = ferror(file);
    fclose(file);
    if (failed) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    /* A copy of exactly size bytes, so reading past the input trips ASan. */
    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL) {
        return -1;
    }
    memcpy(copy, replay_buffer, size);
    (void)LLVMFuzzerTestOneInput(copy, size);
    free(copy);
    return 0;
}

/* Runs every regular file in directory; returns the count, or -1 on an error. */
static long replay_directory(const char *directory)
{
    DIR *handle = opendir(directory);
    if (handle == NULL) {
        fprintf(stderr, "replay: cannot open directory %s\n", directory);
        return -1;
    }
    long count = 0;
    struct dirent *entry;
    while ((entry = readdir(handle)) != NULL) { /* bounded by the directory */
        char path[REPLAY_PATH_SIZE_MAX];
        struct stat info;
        int written = snprintf(path, sizeof(path), "%s/%s", directory, entry->d_name);
        if (written < 0 || (size_t)written >= sizeof(path) || stat(path, &info) != 0 ||
            !S_ISREG(info.st_mode)) {
            continue;
        }
        if (replay_file(path) != 0) {
            count = -1;
            break;
        }
        count++;
    }
    closedir(handle);
    return count;
}

int main(int argc, char **argv)
{
    long total = 0;
    for (int index = 1; index < argc; index++) {
        struct stat info;
        long count = -1;
        if (stat(argv[index], &info) == 0 && S_ISDIR(info.st_mode)) {
            count = replay_directory(argv[index]);
        } else if (stat(argv[index], &info) == 0) {
            count = replay_file(argv[index]) == 0 ? 1 : -1;
        }
        if (count < 0) {
            fprintf(stderr, "replay: %s failed\n", argv[index]);
            return 1;
        }
        total += count;
    }
    printf("replay: %ld inputs\n", total);
    return total > 0 ? 0 : 1;
}
