import { vigilError } from '../errors.js';

/**
 * Training-time augmentations for clip features. Each adds feature sequences computed on
 * other decodes of every training clip: `flip` mirrors the frames, `speed` samples at 0.75x
 * and 1.25x the model's fps (the head still steps as if at its own fps, so motion looks
 * faster or slower), `crop` takes the centre 85% before the letterbox. Early-stopping and
 * test clips are never augmented.
 */
export const AUGMENTATIONS = ['flip', 'speed', 'crop'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];

/** How one augmented copy of a clip is decoded. */
export interface AugmentDecode {
  /** ffmpeg video filters applied to the sampled frames before the letterbox. */
  filters: string[];
  /** Sampling rate as a multiple of the model's fps; frames keep their own timestamps. */
  fpsScale: number;
}

/** Variant name (part of the feature spec, so of the cache key) → its decode. */
export const AUGMENT_VARIANTS: Readonly<Record<string, AugmentDecode>> = Object.freeze({
  flip: { filters: ['hflip'], fpsScale: 1 },
  'fps0.75x': { filters: [], fpsScale: 0.75 },
  'fps1.25x': { filters: [], fpsScale: 1.25 },
  crop85: { filters: ['crop=trunc(iw*0.85/2)*2:trunc(ih*0.85/2)*2'], fpsScale: 1 },
});

const VARIANTS_OF: Readonly<Record<Augmentation, readonly string[]>> = {
  flip: ['flip'],
  speed: ['fps0.75x', 'fps1.25x'],
  crop: ['crop85'],
};

/** The decode variants an augmentation list adds per clip, in a fixed order. */
export function augmentVariants(augment: readonly Augmentation[] = []): string[] {
  return AUGMENTATIONS.filter((a) => augment.includes(a)).flatMap((a) => VARIANTS_OF[a]);
}

/** @throws VIGIL_ERR_INVALID_ARGUMENT for a name not in {@link AUGMENT_VARIANTS} */
export function augmentDecode(variant: string): AugmentDecode {
  const d = AUGMENT_VARIANTS[variant];
  if (d === undefined)
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `augmentation variant ${variant}; allowed: ${Object.keys(AUGMENT_VARIANTS).join(', ')}`);
  return d;
}

/**
 * `flip,speed` → ['flip', 'speed'].
 * @throws VIGIL_ERR_INVALID_ARGUMENT for an unknown or repeated name (the message lists the allowed ones)
 */
export function parseAugment(list: string): Augmentation[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = names.filter((n) => !(AUGMENTATIONS as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0 || new Set(names).size !== names.length) {
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `augment ${JSON.stringify(list)}; a comma-separated list of ${AUGMENTATIONS.join(', ')}, each once`,
    );
  }
  return names as Augmentation[];
}
