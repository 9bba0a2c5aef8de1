"""The consent text a citizen agrees to, and its version (stored with each follow).

Change the text → change VERSION: a follow keeps the version its owner agreed to.
"""
VERSION = "2026-12-04"

TEXT = (
    "Autorizo o portal da 2ª Vara Cível de Cariacica (TJES) a guardar o meu endereço de e-mail e o número deste "
    "processo apenas para me enviar avisos de novas movimentações dele. Guardamos também a data deste pedido, a "
    "versão deste texto e a data da confirmação. Um pedido não confirmado em 48 horas é apagado. Os dados ficam "
    "guardados enquanto eu quiser receber os avisos: cada aviso traz um link para cancelar, e o cancelamento apaga "
    "o endereço na hora (quando não houver outro processo acompanhado). Um processo sem movimentação por 2 anos "
    "deixa de ser acompanhado, com um último aviso."
)
