/*
 * training/tensorboard.h -- TensorBoard event files, written by hand (no
 * protobuf library), as torch.utils.tensorboard.SummaryWriter writes them
 * for the Hugging Face Trainer's TensorBoardCallback (report_to:
 * tensorboard).
 *
 * File: {logdir}/events.out.tfevents.{int(wall_time):010d}.{hostname}.{pid}.{uid}
 * (uid counts the writers opened by this process, from 0, as tensorboard's
 * EventFileWriter does). The file is a sequence of TFRecords:
 *
 *   uint64 length (little-endian)
 *   uint32 masked_crc32c(length bytes)
 *   byte   data[length]              a serialized tensorflow.Event
 *   uint32 masked_crc32c(data)
 *
 * masked_crc(x) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 over CRC-32C
 * (Castagnoli). Event fields written (proto3: a zero wall_time / step is
 * left out, as protobuf serializes it):
 *
 *   1 wall_time double | 2 step int64 | 3 file_version string
 *   5 summary { 1 value { 1 tag string, 2 simple_value float } }
 *   10 source_metadata { 1 writer string }
 *
 * The first record is {wall_time, file_version "brain.Event:2",
 * source_metadata {writer "sbert"}}; each scalar is its own Event with one
 * Summary.Value (torch's add_scalar with new_style=False: the value is
 * stored as a float32 simple_value).
 *
 * The Trainer's tags (transformers' rewrite_logs): a log_history key
 * "eval_X" becomes "eval/X", "test_X" becomes "test/X", any other key K
 * becomes "train/K" ("train/loss", "train/learning_rate", "train/grad_norm",
 * "train/epoch"); the entry's "step" is the event step, not a tag.
 */
#ifndef SBERT_TRAINING_TENSORBOARD_H
#define SBERT_TRAINING_TENSORBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "sbert.h"

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78) of n bytes. */
uint32_t sbert_crc32c(const void *data, size_t n);
/* TFRecord's masked CRC of n bytes. */
uint32_t sbert_tb_masked_crc(const void *data, size_t n);

/* Serialized Event messages into buf (cap bytes); return the length needed
 * (like snprintf: nothing past cap is written). */
size_t sbert_tb_event_file_version(uint8_t *buf, size_t cap, double wall_time);
size_t sbert_tb_event_scalar(uint8_t *buf, size_t cap, double wall_time, int64_t step, const char *tag,
                             float value);

/* "{output_dir}/runs/{%b%d_%H-%M-%S}_{hostname}" for local time `now`
 * (English month names whatever the locale), as transformers'
 * default_logdir() joined to output_dir. */
sbert_status sbert_tb_default_logdir(const char *output_dir, time_t now, char *out, size_t cap);

/* The tag of a log_history key (rewrite_logs) into out. */
void sbert_tb_tag(const char *key, char *out, size_t cap);

typedef struct sbert_tb_writer sbert_tb_writer;

/* Create logdir (and parents) and the event file in it; write the
 * file_version event stamped wall_time. */
sbert_status sbert_tb_open(const char *logdir, double wall_time, sbert_tb_writer **out);
/* Append one scalar event (flushed to the file before returning). */
sbert_status sbert_tb_add_scalar(sbert_tb_writer *w, const char *tag, double value, int64_t step, double wall_time);
/* Every number of a log_history entry except "step", under its Trainer tag,
 * at the entry's "step": the metrics in the entry's order, then
 * "train/epoch" (the order of the Trainer's logs dict, epoch added last). */
sbert_status sbert_tb_add_history_entry(sbert_tb_writer *w, const cJSON *entry, double wall_time);
/* The event file's path. */
const char *sbert_tb_path(const sbert_tb_writer *w);
void sbert_tb_close(sbert_tb_writer *w);

/* Seconds since the epoch (CLOCK_REALTIME), as Python's time.time(). */
double sbert_tb_now(void);

#endif
