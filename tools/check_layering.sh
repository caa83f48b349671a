#!/usr/bin/env bash
# The layering rule and the file-size rule of docs/ARCHITECTURE.md, checked on the sources:
#  - an #include "FOLDER/..." in a layer may name only its own folder or a lower layer:
#      core < kernels < models < text_encoders | unet | vae < sampling < nodes < graph < cli
#    (text_encoders, unet and vae are peers and never include each other; sampling runs the
#    FLUX model and reads the latent format, so it sits above unet and vae);
#  - no source file (.c .h .cu, in the layers and in tests/) passes MAX_LINES lines.
# Prints every violation and exits 1 if there is one. Usage: tools/check_layering.sh [ROOT]
set -u
root=${1:-.}
max_lines=${MAX_LINES:-800}
cd "$root" || exit 2
declare -A rank=([core]=0 [kernels]=1 [models]=2 [text_encoders]=3 [unet]=3 [vae]=3 [sampling]=4
                 [nodes]=5 [graph]=6 [cli]=7)
bad=0
for layer in "${!rank[@]}"; do
    [ -d "$layer" ] || { echo "layering: folder $layer/ is missing"; bad=1; continue; }
    while IFS= read -r hit; do
        file=${hit%%:*}
        rest=${hit#*:}
        line=${rest%%:*}
        target=$(sed -E 's/.*#[[:space:]]*include[[:space:]]+"([a-z_]+)\/.*/\1/' <<<"$rest")
        [ "$target" = "$layer" ] && continue
        if [ -z "${rank[$target]+x}" ]; then
            [ "$target" = tests ] && { echo "$file:$line: a product file includes tests/"; bad=1; }
            continue
        fi
        if [ "${rank[$target]}" -ge "${rank[$layer]}" ]; then
            echo "$file:$line: $layer/ (rank ${rank[$layer]}) includes $target/ (rank ${rank[$target]})"
            bad=1
        fi
    done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[a-z_]+/' "$layer" \
                 --include='*.c' --include='*.h' --include='*.cu' --include='*.cuh' | sed -E 's/^([^:]+:[0-9]+):/\1:/')
done
while IFS= read -r f; do
    n=$(wc -l <"$f")
    if [ "$n" -gt "$max_lines" ]; then echo "$f: $n lines (at most $max_lines)"; bad=1; fi
done < <(find "${!rank[@]}" tests -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) 2>/dev/null | sort)
exit $bad
