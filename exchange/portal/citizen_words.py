"""The words of the citizen's access report, per language (see `citizen_text`).

Each text is trusted HTML with `{name}` placeholders (`str.format`); the values are
escaped when put in (`Language.html`). Every language has every key: a test checks it.
To add a language, copy the English block, translate it, and add its months and number
marks in `citizen_text.LANGUAGES`.
"""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "doc_title": "Who received your data · GovBus access report",
        "title": "Who received your data",
        "lead": (
            "This report is about the person with national id <strong>{masked}</strong>. It lists every "
            "time the government's data exchange (GovBus) passed data about this person from one public "
            "agency to another, up to {generated}."
        ),
        "times_one": "1 time",
        "times_many": "{n} times",
        "summary": "<strong>{times}</strong>, to {recipients}. Oldest first.",
        "and": "and",
        "when": "When",
        "from": "From",
        "to": "To",
        "why": "Why",
        "allowed_by": "Allowed by",
        "shared": "What was shared",
        "special": "Specially protected data",
        "untranslated": "{text} (not translated)",
        "special_value": "{fields} ({marker})",
        "log_entry": "Log entry",
        "log_entry_value": "no. {seq}",
        "when_value": "{day}, {time} (UTC)",
        "pseudonymized": ". Your name and national id were not shared: the agency received a code instead.",
        "proof_summary": "Proof that this is in the exchange's log (for experts)",
        "proof_intro": (
            "The log entry of this delivery and its inclusion proof against the signed checkpoint no. "
            "{number}. See “How to check this report” below."
        ),
        "no_proof": (
            "This delivery is newer than the log's latest signed checkpoint, so its proof is not available "
            "yet. Ask again after the exchange's next run."
        ),
        "nobody": "No agency received data about you through the exchange.",
        "meaning_title": "What this means",
        "meaning": (
            "Agencies may receive data about you only for a stated purpose, and only when a law allows it "
            "or you gave your consent. Each agency gets only the pieces of data its purpose needs. If "
            "something here looks wrong to you, contact the agency that received the data, or the data "
            "protection authority, and show them this report."
        ),
        "check_title": "How to check this report",
        "check_intro": (
            "You do not have to trust this page. Each delivery above is copied from the exchange's log, "
            "which is signed and chained: no entry can be changed, removed or put in another order without "
            "it showing. Someone with a computer can check it for you."
        ),
        "steps": "Step by step (for experts)",
        "step_keys_one": (
            "Save the exchange's public key below as a <code>.pem</code> file. Better: obtain it from the "
            "exchange's published keys (<code>govbus keys list</code>), so that you trust nothing in this "
            "file."
        ),
        "step_keys_many": (
            "Save the exchange's public keys below as a <code>.pem</code> file. Better: obtain them from "
            "the exchange's published keys (<code>govbus keys list</code>), so that you trust nothing in "
            "this file."
        ),
        "step_proof": "Save the text under a delivery's proof as <code>proof.json</code>.",
        "step_run": (
            "Run <code>govbus audit check-proof proof.json --trusted-keys bus-key.pem</code>. It needs no "
            "database and no network."
        ),
        "by_hand": "Or by hand, with any SHA-256 and Ed25519 tool:",
        "hand_entry": (
            "The entry's hash is SHA-256 of the bytes <code>govbus-ledger-v1</code> followed by "
            "<code>seq</code>, <code>at</code>, <code>kind</code>, <code>payload</code> and "
            "<code>prev_hash</code> (as UTF-8 text, each preceded by its length as 8 bytes, big-endian). "
            "It must equal <code>entry_hash</code>, and <code>signature</code> must be a valid Ed25519 "
            "signature of those 32 bytes."
        ),
        "hand_path": (
            "The leaf is SHA-256(0x00 ‖ entry hash). Combine it with each hash of <code>audit_path</code> "
            "in turn, as RFC 6962 (Certificate Transparency) says: node = SHA-256(0x01 ‖ left ‖ right), "
            "left or right by the bits of <code>leaf_index</code> within <code>tree_size</code>. The "
            "result must equal the checkpoint's <code>root</code>."
        ),
        "hand_checkpoint": (
            "The checkpoint's <code>signature</code> must be a valid Ed25519 signature, by the key named "
            "<code>key_id</code>, of the text <code>govbus-ledger</code>, tree size, root (hex) and time "
            "(as in the proof's <code>checkpoint.at</code>), each followed by a newline, and — for "
            "checkpoints signed with their number — the line <code>checkpoint</code>, a space and the "
            "checkpoint's number, followed by a newline."
        ),
        "checkpoint": (
            "Latest signed checkpoint: no. {number}, {size} log entries, root <code>{root}</code>, signed "
            "{at} by key <code>{key}</code>."
        ),
        "public_key": "Public key <code>{key}</code>:",
        "footer": (
            "GovBus access report, made on {generated} ({time} UTC). This page uses no script and loads "
            "nothing from the internet; you can save and print it."
        ),
        # Sentences built in citizen.py (plain text).
        "sentence": (
            "On {day}, {owner} gave {recipient} data about you from “{about}”, for this purpose: "
            "{purpose}. {basis} {approval}"
        ),
        "approved": "{owner} approved the agency's request for it (signed decision, ledger entry {seq}).",
        "declared": "The exchange's published catalog declares this subscription ({subscription}).",
        "first_load": " It was part of the data that existed when the agency started receiving it.",
        "agency": "the {name}",
        "agency_unknown": "the agency “{id}”",
        "owner_unknown": "the agency that keeps it",
        "by_statute": "A law allowed it without asking you: {law}.",
        "law": "{law} (statute {id})",
        "statute": "statute {id}",
        "by_consent": "You allowed it: your consent was in force at that time.",
        "by_consent_no": "You allowed it: your consent no. {id}, given on {day}.",
        "by_other": "Legal basis recorded: {basis}.",
        "none": "none",
        "pseudonym_field": "a code standing for you that only this agency can use (not your national id)",
    },
    "fr": {
        "doc_title": "Qui a reçu vos données · Rapport d’accès GovBus",
        "title": "Qui a reçu vos données",
        "lead": (
            "Ce rapport concerne la personne dont le numéro d’identification national est "
            "<strong>{masked}</strong>. Il recense chaque transmission, par l’échange de données de "
            "l’administration (GovBus), de données sur cette personne d’un organisme public à un autre, "
            "jusqu’au {generated}."
        ),
        "times_one": "1 fois",
        "times_many": "{n} fois",
        "summary": "<strong>{times}</strong>, à {recipients}. Les plus anciennes d’abord.",
        "and": "et",
        "when": "Quand",
        "from": "De",
        "to": "À",
        "why": "Pourquoi",
        "allowed_by": "Autorisé par",
        "shared": "Données transmises",
        "special": "Données spécialement protégées",
        "untranslated": "{text} (non traduit)",
        "special_value": "{fields} ({marker})",
        "log_entry": "Entrée du journal",
        "log_entry_value": "n° {seq}",
        "when_value": "{day}, {time} (UTC)",
        "pseudonymized": (
            ". Vos nom et numéro d’identification national n’ont pas été transmis\u00a0: l’organisme a "
            "reçu un code à la place."
        ),
        "proof_summary": (
            "Preuve que cette transmission figure dans le journal de l’échange (pour les experts)"
        ),
        "proof_intro": (
            "L’entrée du journal de cette transmission et sa preuve d’inclusion par rapport au point de "
            "contrôle signé n° {number}. Voir «\u00a0Comment vérifier ce rapport\u00a0» ci-dessous."
        ),
        "no_proof": (
            "Cette transmission est plus récente que le dernier point de contrôle signé du journal\u00a0: "
            "sa preuve n’est pas encore disponible. Redemandez ce rapport après la prochaine exécution de "
            "l’échange."
        ),
        "nobody": "Aucun organisme n’a reçu de données vous concernant par l’échange.",
        "meaning_title": "Ce que cela signifie",
        "meaning": (
            "Un organisme ne peut recevoir des données vous concernant que dans un but déclaré, et "
            "seulement si une loi le permet ou si vous y avez consenti. Chaque organisme ne reçoit que les "
            "données dont son but a besoin. Si quelque chose vous semble inexact, contactez l’organisme "
            "qui a reçu les données, ou l’autorité de protection des données, et montrez-leur ce rapport."
        ),
        "check_title": "Comment vérifier ce rapport",
        "check_intro": (
            "Vous n’avez pas à croire cette page sur parole. Chaque transmission ci-dessus est copiée du "
            "journal de l’échange, qui est signé et chaîné\u00a0: aucune entrée ne peut être modifiée, "
            "supprimée ou déplacée sans que cela se voie. Une personne équipée d’un ordinateur peut le "
            "vérifier pour vous."
        ),
        "steps": "Pas à pas (pour les experts)",
        "step_keys_one": (
            "Enregistrez la clé publique de l’échange ci-dessous dans un fichier <code>.pem</code>. "
            "Mieux\u00a0: obtenez-la depuis les clés publiées de l’échange (<code>govbus keys "
            "list</code>), pour ne vous fier à rien dans ce fichier."
        ),
        "step_keys_many": (
            "Enregistrez les clés publiques de l’échange ci-dessous dans un fichier <code>.pem</code>. "
            "Mieux\u00a0: obtenez-les depuis les clés publiées de l’échange (<code>govbus keys "
            "list</code>), pour ne vous fier à rien dans ce fichier."
        ),
        "step_proof": "Enregistrez le texte sous la preuve d’une transmission dans <code>proof.json</code>.",
        "step_run": (
            "Lancez <code>govbus audit check-proof proof.json --trusted-keys bus-key.pem</code>. Cela ne "
            "demande ni base de données ni réseau."
        ),
        "by_hand": "Ou à la main, avec n’importe quel outil SHA-256 et Ed25519\u00a0:",
        "hand_entry": (
            "Le hachage de l’entrée est le SHA-256 des octets <code>govbus-ledger-v1</code> suivis de "
            "<code>seq</code>, <code>at</code>, <code>kind</code>, <code>payload</code> et "
            "<code>prev_hash</code> (en texte UTF-8, chacun précédé de sa longueur sur 8 octets, "
            "gros-boutiste). Il doit être égal à <code>entry_hash</code>, et <code>signature</code> doit "
            "être une signature Ed25519 valide de ces 32 octets."
        ),
        "hand_path": (
            "La feuille est SHA-256(0x00 ‖ hachage de l’entrée). Combinez-la tour à tour avec chaque "
            "hachage de <code>audit_path</code>, comme le décrit la RFC 6962 (Certificate "
            "Transparency)\u00a0: nœud = SHA-256(0x01 ‖ gauche ‖ droite), à gauche ou à droite selon les "
            "bits de <code>leaf_index</code> dans <code>tree_size</code>. Le résultat doit être égal à la "
            "<code>root</code> du point de contrôle."
        ),
        "hand_checkpoint": (
            "La <code>signature</code> du point de contrôle doit être une signature Ed25519 valide, par la "
            "clé nommée <code>key_id</code>, du texte <code>govbus-ledger</code>, de la taille de l’arbre, "
            "de la racine (hexadécimale) et de l’heure (comme dans <code>checkpoint.at</code> de la "
            "preuve), chacun suivi d’un saut de ligne, et — pour les points de contrôle signés avec leur "
            "numéro — de la ligne <code>checkpoint</code>, d’une espace et du numéro du point de contrôle, "
            "suivie d’un saut de ligne."
        ),
        "checkpoint": (
            "Dernier point de contrôle signé\u00a0: n° {number}, {size} entrées du journal, racine "
            "<code>{root}</code>, signé le {at} par la clé <code>{key}</code>."
        ),
        "public_key": "Clé publique <code>{key}</code>\u00a0:",
        "footer": (
            "Rapport d’accès GovBus, établi le {generated} ({time} UTC). Cette page n’utilise aucun script "
            "et ne charge rien depuis Internet\u00a0; vous pouvez l’enregistrer et l’imprimer."
        ),
        "sentence": (
            "Le {day}, {owner} a transmis à {recipient} des données vous concernant, issues de "
            "«\u00a0{about}\u00a0», dans ce but\u00a0: {purpose}. {basis} {approval}"
        ),
        "approved": (
            "{owner} a approuvé la demande de l’organisme (décision signée, entrée du journal {seq})."
        ),
        "declared": "Le catalogue publié de l’échange déclare cet abonnement ({subscription}).",
        "first_load": " Ces données existaient déjà quand l’organisme a commencé à les recevoir.",
        "agency": "{name}",
        "agency_unknown": "l’organisme «\u00a0{id}\u00a0»",
        "owner_unknown": "l’organisme qui les détient",
        "by_statute": "Une loi l’autorisait sans vous le demander\u00a0: {law}.",
        "law": "{law} (texte {id})",
        "statute": "texte {id}",
        "by_consent": "Vous l’avez autorisé\u00a0: votre consentement était alors en vigueur.",
        "by_consent_no": "Vous l’avez autorisé\u00a0: votre consentement n° {id}, donné le {day}.",
        "by_other": "Base légale enregistrée\u00a0: {basis}.",
        "none": "aucune",
        "pseudonym_field": (
            "un code qui vous représente et que seul cet organisme peut utiliser (pas votre numéro "
            "d’identification national)"
        ),
    },
}
