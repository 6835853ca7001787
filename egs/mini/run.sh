#!/usr/bin/env bash
# egs/mini: the embedded default recipe. It makes its own corpus with speech synthesis, so it
# runs on any machine with no download, and trains a SpeechVerse-style model in miniature:
# a CTC-pretrained Conformer (frozen) -> layer mix -> conv downsampler -> a small LLM
# pretrained on the task texts (frozen) + LoRA, with the paper's curriculum.
#
# Stages (svtk command in brackets):
#   0  check the environment                              [svtk check]
#   1  synthesise the corpus, lhotse manifests             [svtk data synth]
#   2  validate manifests, build task cuts                 [svtk data validate, svtk data tasks]
#   3  fbank of the ASR cuts, once, for CTC pre-training   [svtk data fbank]
#   4  sentencepiece tokenizer on the task texts           [svtk model train-tokenizer]
#      and a token 3-gram on the ASR targets               [svtk model train-lm]
#   5  pre-train the speech encoder with CTC               [svtk train --phase encoder_ctc]
#   6  pre-train the text LLM on the task texts            [svtk train --phase text_lm]
#   7  cache the frozen encoder's latents (every split)   [svtk latents extract]
#   8  curriculum phase 1: downsampler + layer mix, ASR    [svtk train --phase phase1]
#   9  curriculum phase 2a: + LoRA, ASR                    [svtk train --phase phase2a]
#  10  curriculum phase 2b: + LoRA, all tasks mixed        [svtk train --phase phase2b]
#  11  all tasks at once, no curriculum (comparison)       [svtk train --phase allatonce]
#      (runs beside stages 8-10: it needs only stages 5-7)
#  12  decode: seen/unseen prompts and voices, constrained
#      or free, unseen labels, joint; ASR with CTC scores  [svtk decode]
#  13  cascade baselines GT->LLM and ASR->LLM              [svtk decode --system]
#  14  score every decode                                  [svtk score]
#  15  RESULTS.md, confusion matrices, training curves     [svtk report]
#
# Independent commands run side by side (bin/jobs.sh), each on its share of the cores with its
# output in a log file: CTC beside the text LLM, the curriculum beside the all-at-once run and
# then the decodes, two at a time, each once its model is trained. A queue of svtk commands runs
# in `svtk batch`'s workers, which pay the ~10 s of imports once each, not once per command
# (the decodes: 185 -> 106 s).
# --nj 1 runs everything one after the other, on every core.
#
# Usage: egs/mini/run.sh [--stage N] [--stop-stage M] [--nj N] [--hours H] [--ctc-weight W]
#        (the CI runs it small: --synth-config conf/ci/synth.yaml --train-config conf/ci/train.yaml)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

stage=0
stop_stage=100
nj=2                              # parallel jobs: synthesis workers, training and decoding jobs
hours=                            # audio hours, times each split's share (default: synth config)
synth_config=conf/synth.yaml
tasks_config=conf/tasks.yaml
train_config=conf/train.yaml      # pre-training phases + curriculum
decode_config=conf/decode.yaml    # output length caps (the flags of each decode add the rest)
model_config=../../conf/model/mini.yaml
data=data
exp=exp/mini                      # the curriculum experiment
exp_all=exp/mini_all_at_once      # the same model trained on all tasks at once
# joint CTC/LLM decoding (stage 12): the weight of the encoder's CTC head, chosen on dev (32
# utterances, 212 words; beam 4, the 12:24 run of 2026-12-02): 0.5 / 0.6 / 0.7 / 0.8 / 0.9 / 1.0
# gave 16.5 / 16.0 / 14.6 / 16.0 / 19.3 / 26.4 % WER (a sweep that morning, decoded in a way
# not recorded, also put 0.7 ahead of 0.5: 17.0 / 19.3 %, and beam 8 no better than 4). On the
# 14:55 run's model (the same weights), beam 8 at 0.6 / 0.7 / 0.8: 16.5 / 16.0 / 17.0 %; beam 4
# at 0.7 with --set length_penalty= 0 / 0.5 / 1 (the default) / 1.5 / 2: 16.0 / 15.6 / 14.6 /
# 15.6 / 17.0 %. Again for the 8x encoder (the 04:34 run of 2026-12-04), beam 4, 0.5 / 0.6 / 0.7 /
# 0.8 / 0.9 / 1.0: 22.2 / 21.2 / 22.6 / 22.6 / 23.1 / 27.4 % (2-3 words of 212 apart: kept)
ctc_weight=0.7
# ASR by the CTC head alone with a token n-gram LM (stage 12; shallow fusion, Kaldi/icefall's
# CTC + LM system beside the joint CTC/LLM one): order and weight chosen on dev (beam 4, the
# 01:48 run of 2026-12-04), % WER with no LM 26.4; 3-gram at 0.2 / 0.3 / 0.4 / 0.5 / 0.6 / 0.8:
# 23.1 / 22.6 / 23.6 / 21.2 / 21.7 / 23.6; 4-gram 22.6 / 22.6 / 23.6 / 24.5 / 23.6 / 25.9.
# Fused into the joint CTC/LLM decode (ctc 0.7) instead, the LM cost WER: dev 21.2 % with
# none, 3-gram 0.2 19.8, 4-gram 0.2 / 0.4 / 0.6 21.7 / 24.1 / 24.5; test_seen 17.2 % with none,
# 2-gram 0.1 16.4, 4-gram 0.2 / 0.4 18.0 / 19.1; test_unseen 27.9 % with none, 29.1-30.3 with
# any (the LLM is an in-domain LM already, and an n-gram of the training sentences pulls
# towards them). For the 8x encoder (the 04:34 run of 2026-12-04), 3-gram at 0.3 / 0.4 / 0.5 /
# 0.6 / 0.8: 25.0 / 22.2 / 24.1 / 25.0 / 25.0 % (4 words apart: kept)
lm_order=3
lm_weight=0.5
# The pre-trained encoder and LLM go to exp/pretrain, where conf/model/mini.yaml loads them from.

help_message="Usage: $0 [options]   (see the header of $0 for the stages)"
. ../../bin/parse_options.sh
. ../../bin/log.sh
. ../../bin/jobs.sh
. ./path.sh

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  stage_banner 0 "check the environment"
  svtk check
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  stage_banner 1 "synthesise the corpus"
  svtk data synth --config $synth_config --out-dir $data --workers $nj ${hours:+--hours $hours}
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  stage_banner 2 "validate manifests, build task cuts"
  svtk data validate --data-dir $data --corpus mini --max-skip-fraction 0.01
  svtk data tasks --config $tasks_config --data-dir $data
fi

# Stages 3 and 4 are independent: they run side by side.
if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  stage_banner 3 "fbank of the ASR cuts (CTC pre-training reads it, not the audio)"
  job exp/log/fbank.log \
    svtk data fbank --data-dir $data/tasks --split train --split dev --out-dir $data/fbank --tasks asr
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  stage_banner 4 "tokenizer: sentencepiece on the task texts"
  job exp/log/tokenizer.log \
    svtk model train-tokenizer --cuts $data/tasks/train.jsonl.gz --out-dir exp/tokenizer --vocab-size 500
  job --after exp/log/tokenizer.log exp/log/lm.log \
    svtk model train-lm --cuts $data/tasks/train.jsonl.gz --tokenizer exp/tokenizer \
      --order $lm_order --out exp/lm/asr.${lm_order}gram.arpa.gz
fi
run_jobs

# Stages 5 and 6 are independent: they train side by side.
if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  stage_banner 5 "pre-train the speech encoder (CTC)"
  job exp/pretrain/log/encoder_ctc.log \
    svtk train --config $train_config --phase encoder_ctc --exp-dir exp/pretrain \
      --set data.train_cuts=$data/fbank/train.jsonl.gz --set data.valid_cuts=$data/fbank/dev.jsonl.gz
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  stage_banner 6 "pre-train the text LLM on the task texts"
  job exp/pretrain/log/text_lm.log \
    svtk train --config $train_config --phase text_lm --exp-dir exp/pretrain
fi
run_jobs

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  stage_banner 7 "cache the frozen encoder's latents"
  # one split after the other (train wants every core), one start-up (~15 s of imports).
  # The test splits too: a recording carries ~7 task cuts and is decoded by several runs of
  # stage 12, which would otherwise encode it again each time (stages 12-13: 97 -> 65 s with
  # LoRA merged as well, the same hypotheses)
  svtk latents extract --config $model_config --data-dir $data/tasks --split train --split dev \
    --split test_seen --split test_unseen --split test_heldout_ic --split test_seen_joint \
    --out-dir $data/latents
fi

# Training and decoding read the cached latents; the encoder tag names the cache.
latents_dir() { echo $data/latents/$(svtk latents tag --config $model_config); }
on_latents() {
  local cache
  cache=$(latents_dir)
  echo "--set data.train_cuts=$cache/train.jsonl.gz --set data.valid_cuts=$cache/dev.jsonl.gz"
}

# Stages 8-10 are one chain (each phase starts from the last), trained by one svtk train
# (one start-up, the same weights as three); stage 11 trains beside it.
phases=()
n=8
for phase in phase1 phase2a phase2b; do
  [ $stage -le $n ] && [ $stop_stage -ge $n ] && phases+=(--phase $phase)
  n=$((n + 1))
done
if [ ${#phases[@]} -gt 0 ]; then
  [ $stage -le 8 ] && stage_banner 8 "curriculum phase 1: downsampler + layer mix on ASR"
  [ $stage -le 9 ] && [ $stop_stage -ge 9 ] && stage_banner 9 "curriculum phase 2a: + LoRA, ASR only"
  [ $stop_stage -ge 10 ] && stage_banner 10 "curriculum phase 2b: + LoRA, all tasks mixed"
  job $exp/log/curriculum.log \
    svtk train --config $train_config "${phases[@]}" --exp-dir $exp $(on_latents)
fi

if [ $stage -le 11 ] && [ $stop_stage -ge 11 ]; then
  stage_banner 11 "all tasks at once, no curriculum (for the comparison)"
  job $exp_all/log/allatonce.log \
    svtk train --config $train_config --phase allatonce --exp-dir $exp_all $(on_latents)
fi

# The decodes join the training jobs' queue: each waits (--after) for the job that trains its
# model, so that the all-at-once model and the cascades, which need only stages 5-7, are
# decoded on the core that the all-at-once run leaves idle while the curriculum still trains.
# They read the test splits' cached latents (stage 7): the same hypotheses as from the audio.
decode() {  # decode [--after LOG] LOG_NAME EXP_DIR "SPLIT..." OPTIONS...  (one model load)
  local after=()
  [ "$1" = --after ] && { after=(--after "$2"); shift 2; }
  local name=$1 dir=$2 split splits=()
  for split in $3; do splits+=(--split "$split"); done
  shift 3
  job "${after[@]}" $dir/log/decode.$name.log svtk decode --config $decode_config \
    --exp-dir $dir --data-dir $decode_data "${splits[@]}" "$@"
}
curriculum_done="--after $exp/log/curriculum.log"  # for the decodes of $exp
[ $stage -le 13 ] && [ $stop_stage -ge 12 ] && decode_data=$(latents_dir)

if [ $stage -le 12 ] && [ $stop_stage -ge 12 ]; then
  stage_banner 12 "decode"
  # held-out sentences: training voices and never-heard voices; constrained and free
  decode $curriculum_done test.constrained $exp "test_seen test_unseen" --prompts train --constrained
  decode $curriculum_done test_seen.free $exp test_seen --prompts train --no-constrained
  # prompts never seen in training
  decode $curriculum_done test_seen.unseen_prompts $exp test_seen --prompts unseen --constrained
  # intents held out of training; the prompts list the candidate intents (paper Table 7)
  for c in constrained no-constrained; do
    decode $curriculum_done test_heldout_ic.$c $exp test_heldout_ic --prompts cut --$c
  done
  # joint decoding: transcript first, then the task output. On test_seen with its training
  # prompts (the joint suffix added), the same items and prompts as the plain decode above:
  # RESULTS.md pairs the two (joint vs plain, per task). On test_seen_joint with the joint
  # prompts of its cuts, also with the transcript part rescored by the encoder's CTC head
  decode $curriculum_done test_seen.joint $exp test_seen --prompts train --constrained --joint \
    --tasks ic,sf,kwe,kws,asc,st
  decode $curriculum_done test_seen_joint $exp test_seen_joint --prompts cut --constrained --joint
  decode $curriculum_done test_seen_joint.ctc $exp test_seen_joint --prompts cut --constrained \
    --joint --ctc-weight $ctc_weight
  # ASR by beam search, alone and with joint CTC/LLM scoring: the frozen encoder's CTC head
  # rescores every next token (ESPnet's ctc_weight; beam 4 and the weight chosen on dev, see
  # ctc_weight above)
  decode $curriculum_done test_seen.asr_beam $exp test_seen --prompts train --constrained \
    --tasks asr --beam 4
  decode $curriculum_done test.asr_ctc $exp "test_seen test_unseen" --prompts train --constrained \
    --tasks asr --beam 4 --ctc-weight $ctc_weight
  # the CTC head alone (weight 1) with the token n-gram of stage 4: the classic CTC + LM system
  decode $curriculum_done test.asr_ctc_lm $exp "test_seen test_unseen" --prompts train \
    --constrained --tasks asr --beam 4 --ctc-weight 1 --lm exp/lm/asr.${lm_order}gram.arpa.gz \
    --lm-weight $lm_weight
  # the all-at-once model on the same test
  decode --after $exp_all/log/allatonce.log test_seen.constrained $exp_all test_seen \
    --prompts train --constrained
fi

if [ $stage -le 13 ] && [ $stop_stage -ge 13 ]; then
  stage_banner 13 "cascade baselines: GT->LLM and ASR->LLM (paper Table 2)"
  for system in gt-llm asr-llm; do
    decode test_seen.$system $exp test_seen --prompts train --constrained --system $system
  done
  # ASR->LLM again, its transcripts by CTC prefix beam search with the 3-gram of stage 4 (ASR
  # 18.5 % WER against the best path's 22.2; the 02:49 run of 2026-12-04, test_seen, best path
  # -> CTC + 3-gram: IC 88.0 -> 89.2, SF 59.3 -> 63.1, but KWE 71.9 -> 70.2, ST BLEU 29.9 ->
  # 28.8, ASC 96.8 -> 93.3: the LM writes training sentences, sentiment words and all)
  decode test_seen.asr-llm.lm $exp test_seen --prompts train --constrained --system asr-llm \
    --asr-beam 4 --lm exp/lm/asr.${lm_order}gram.arpa.gz --lm-weight $lm_weight
fi
run_jobs

if [ $stage -le 14 ] && [ $stop_stage -ge 14 ]; then
  stage_banner 14 "score"
  declare -A by_split=()  # one svtk score per split: every decode of it against its cuts
  for d in $exp/decode/*/*/ $exp_all/decode/*/*/; do
    [ -d "$d" ] && by_split[$(basename "$d")]+=" $d"
  done
  for split in "${!by_split[@]}"; do
    svtk score ${by_split[$split]} --ref-cuts $data/tasks/$split.jsonl.gz
  done
fi

if [ $stage -le 15 ] && [ $stop_stage -ge 15 ]; then
  stage_banner 15 "report"
  svtk report --exp-dir $exp --compare $exp_all
  log "results: $(pwd)/$exp/RESULTS.md"
fi

log "egs/mini: stages ${stage}..${stop_stage} done in ${SECONDS}s"
