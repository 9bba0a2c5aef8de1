"""Build data/tpu_movement_categories.json from CNJ's movement table (TPU Movimentos).

Every TPU movement code gets one plain-language category: walk up `codigo_pai` from the code itself to the first
code in RULES; nothing found means "outros". Each rule names the code as the CSV spells it, and the script stops if
the CSV disagrees, so a reviewer can trust the printed table. Run from the repository root:

    python scripts/build_tpu_categories.py [../shared/fixtures/tpu/movimentos.csv] [--output data/...json]
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CSV = REPO.parent / "shared" / "fixtures" / "tpu" / "movimentos.csv"
DEFAULT_OUTPUT = REPO / "data" / "tpu_movement_categories.json"

TPU_SOURCE = (
    "CNJ Tabela Processual Unificada, Movimentos (SGT as of about mid-2021; the version date is not stated): "
    "GitHub jjesusfilho/tjsp data/tpu.rda, added in commit 8546635f9cacf3359b4109d8273fb61657d15b81 (2021-08-16), "
    "unchanged at 30b6bc0a2c64f0d3ad26f262d37bc802ad57d07a; extracted to ../shared/fixtures/tpu/movimentos.csv "
    "(sha256 {sha256}, {rows} codes)"
)

CATEGORIES = {
    "inicio": "Início do processo",
    "com_o_juiz": "Com o juiz",
    "despacho": "Despacho",
    "decisao": "Decisão",
    "sentenca": "Sentença",
    "audiencia": "Audiência",
    "documentos": "Documentos juntados",
    "comunicacoes": "Comunicações",
    "prazos": "Prazos",
    "recurso": "Recurso / instância superior",
    "encerramento": "Encerramento",
    "outros": "Outros",
}

# One sentence each (court_product.md §5), never saying or implying who won.
EXPLANATIONS = {
    "inicio": "O processo, ou uma nova fase dele (como o cumprimento de sentença), foi registrado e encaminhado "
              "à unidade que vai cuidar dele.",
    "com_o_juiz": "O processo foi enviado ao juiz para análise, e não há prazo fixo para a resposta.",
    "despacho": "O juiz deu uma ordem para o processo andar, sem decidir a questão discutida.",
    "decisao": "O juiz decidiu uma questão no curso do processo; o nome oficial, logo acima, diz qual.",
    "sentenca": "Houve um julgamento (sentença do juiz ou acórdão do Tribunal), o que por si só não diz quem ganhou: "
                "converse com seu advogado ou com a Defensoria Pública sobre os próximos passos e os prazos.",
    "audiencia": "Há um registro sobre uma audiência ou sessão de conciliação ou mediação (marcada, realizada, "
                 "cancelada ou remarcada); veja a data e a situação no detalhe.",
    "documentos": "Um documento ou uma petição foi anexado ao processo.",
    "comunicacoes": "A secretaria emitiu um documento ou enviou ou publicou uma comunicação oficial (intimação, "
                    "citação, mandado, Diário da Justiça), e os prazos costumam contar a partir dela, em dias úteis.",
    "prazos": "Terminou um prazo para alguém se manifestar ou cumprir uma determinação.",
    "recurso": "O processo foi enviado a outro órgão ou recebido de volta, por exemplo ao Tribunal para julgar um "
               "recurso; o motivo, quando informado, aparece no detalhe.",
    "encerramento": "Foi registrada uma etapa final: a decisão não admite mais recurso (trânsito em julgado) ou o "
                    "processo foi baixado ou arquivado definitivamente.",
    "outros": "Outro andamento registrado pelo tribunal; o nome oficial aparece logo acima.",
}

# code -> (name in the CSV, category). The walk takes the nearest of these above a code, so a specific rule wins over
# a broader one. Only 1, 3, 14, 193, 11009 and 219–221 were confirmed by the research; every other code here was
# looked up in movimentos.csv by name and parent (chains in ../shared/fixtures/tpu/README.md).
RULES: dict[int, tuple[str, str]] = {
    # --- 1 Magistrado ---
    11009: ("Despacho", "despacho"),  # 1 > 11009; includes 11010 Mero expediente and 12310 Pauta (pedido de inclusão)
    3: ("Decisão", "decisao"),  # 1 > 3; includes decisions on appeals (160 Recebimento > 1060 Recurso, 206, 207)
    193: ("Julgamento", "sentenca"),  # 1 > 193; 218 Sem / 385 Com Resolução do Mérito: 219–221, 237–239 Provimento…
    # 14092 Voto (1 > 14092) is left out: a judge's vote is not the judgment, and "Sentença" would mislead.
    # --- 14 Serventuário > 18 Distribuidor ---
    26: ("Distribuição", "inicio"),  # 14 > 18 > 26
    # 36 Redistribuição and 12296 Registro Processual are left out: they happen mid-way too, not only at the start.
    981: ("Recebimento", "recurso"),  # 14 > 18 > 981: the distributor receives the records (e.g. an appeal arriving)
    982: ("Remessa", "recurso"),  # 14 > 18 > 982
    22: ("Baixa Definitiva", "encerramento"),  # 14 > 18 > 22
    # --- 14 Serventuário > 48 Escrivão/Diretor de Secretaria/Secretário Jurídico ---
    11384: ("Liquidação iniciada", "inicio"),  # 48 > 11384: a new phase (liquidação) is opened
    11385: ("Execução iniciada", "inicio"),  # 48 > 11385: DataJud now says "Execução/Cumprimento de Sentença Iniciada"
    51: ("Conclusão", "com_o_juiz"),  # 48 > 51; the complement says "para despacho/decisão/sentença"
    970: ("Audiência", "audiencia"),  # 48 > 970; 12624 art. 334 CPC, 12740 de Conciliação, 12749 de Instrução…
    67: ("Juntada", "documentos"),  # 48 > 67; 85 Petição, 581 Documento
    118: ("Protocolo de Petição", "documentos"),  # 48 > 118
    60: ("Expedição de documento", "comunicacoes"),  # 48 > 60; the complement names it: mandado, carta, ofício…
    92: ("Publicação", "comunicacoes"),  # 48 > 92 (the name restored in the CSV, see tpu/README.md)
    928: ("Republicação", "comunicacoes"),  # 48 > 928 (restored likewise)
    1061: ("Disponibilização no Diário da Justiça Eletrônico", "comunicacoes"),  # 48 > 1061
    1062: ("Redisponibilização no Diário da Justiça Eletrônico", "comunicacoes"),  # 48 > 1062
    12263: ("Intimação", "comunicacoes"),  # 48 > 12263; 12264 Eletrônica > 12265 Expedida/certificada, 12266…
    12284: ("Citação", "comunicacoes"),  # 48 > 12284
    12281: ("Comunicação eletrônica", "comunicacoes"),  # 48 > 12281
    12316: ("Notificação Inicial", "comunicacoes"),  # 48 > 12316 (inactive; labour courts)
    12317: ("Notificação inicial com liminar", "comunicacoes"),  # 48 > 12317 (inactive)
    1051: ("Decurso de Prazo", "prazos"),  # 48 > 1051
    # Remessa/Recebimento by the secretariat: the complement (motivo_da_remessa) may be "em grau de recurso" or
    # "em diligência"; the category cannot see it, so the explanation says "por exemplo".
    123: ("Remessa", "recurso"),  # 48 > 123
    132: ("Recebimento", "recurso"),  # 48 > 132
    848: ("Trânsito em julgado", "encerramento"),  # 48 > 848
    246: ("Definitivo", "encerramento"),  # 48 > 861 Arquivamento > 246; 245 Provisório is not an end: "outros"
    # 12198 Deliberado em Sessão > 12199 Julgado > 12200 Mérito: the session judged the merits (G2). Its siblings
    # (Adiado, Pedido de Vista, Retirado…) stay "outros".
    12200: ("Mérito", "sentenca"),
    # --- 14 Serventuário > 104 Oficial de Justiça: 105 Devolução / 115 Recebimento of a mandado or ofício ---
    104: ("Oficial de Justiça", "comunicacoes"),
    # --- 14 Serventuário > 12522 Auxiliar da Justiça: conciliation and mediation sessions and their outcome ---
    12523: ("Conciliador", "audiencia"),  # > 12528 Conciliação (Frutífera / Infrutífera / Parcial)
    12525: ("Mediador", "audiencia"),  # > 12526 Conciliação, 12527 Mediação
    12530: ("Conciliação", "audiencia"),  # 12524 Juiz Leigo > 12530; the lay judge's 12529 Decisão stays "outros"
}


def read_table(path: Path) -> dict[int, tuple[str, int | None]]:
    """code -> (name, parent code)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {int(row["codigo"]): (row["nome"], int(row["codigo_pai"]) if row["codigo_pai"] else None)
                for row in csv.DictReader(handle)}


def check_rules(table: dict[int, tuple[str, int | None]]) -> None:
    for code, (name, category) in RULES.items():
        if code not in table:
            raise SystemExit(f"rule {code} {name!r}: the code is not in the table")
        if table[code][0] != name:
            raise SystemExit(f"rule {code}: the table calls it {table[code][0]!r}, the rule {name!r}")
        if category not in CATEGORIES:
            raise SystemExit(f"rule {code}: unknown category {category!r}")


def category_of(code: int, table: dict[int, tuple[str, int | None]]) -> str:
    seen = set()
    current: int | None = code
    while current is not None and current not in seen:
        if current in RULES:
            return RULES[current][1]
        seen.add(current)
        current = table[current][1] if current in table else None
    return "outros"


def build(csv_path: Path) -> dict:
    table = read_table(csv_path)
    check_rules(table)
    sha256 = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    return {
        "tpu_source": TPU_SOURCE.format(sha256=sha256, rows=len(table)),
        "generated_by": "scripts/build_tpu_categories.py",
        "categories": CATEGORIES,
        "explanations": EXPLANATIONS,
        "codes": {str(code): category_of(code, table) for code in sorted(table)},
    }


def describe_rules(csv_path: Path) -> list[str]:
    table = read_table(csv_path)

    def chain(code: int) -> str:
        names = []
        current: int | None = code
        while current is not None:
            names.append(f"{current} {table[current][0]}")
            current = table[current][1]
        return " > ".join(reversed(names))

    return [f"{code:>6}  {RULES[code][1]:<13} {chain(code)}" for code in RULES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV, help="TPU movimentos.csv")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON mapping")
    args = parser.parse_args(argv)
    if not args.csv.is_file():
        print(f"not found: {args.csv}", file=sys.stderr)
        return 2
    mapping = build(args.csv)
    print("rules (code, category, chain in the table):")
    for line in describe_rules(args.csv):
        print(line)
    counts = Counter(mapping["codes"].values())
    print("codes per category:", ", ".join(f"{name} {counts[name]}" for name in CATEGORIES))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(mapping, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.output} ({len(mapping['codes'])} codes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
